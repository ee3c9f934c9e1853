"""Find the persons of a test set without labels: an embedding per picture, then clustering.

The competition's eval set (and facebench's) holds seven pictures of every person, shot in one
sitting: five masks, one worn wrongly, one without. What differs between them is the mask, the
pose and the light; what they share is the face above the mask, the hair, the clothes and the
background. The embedding learns that from the training persons, whose sittings are known:

1. a picture's raw features: the histogram of oriented gradients (OpenCV's HOG) of the whole
   picture at 48x48 and at 24x24 (the coarser one tolerates more turn, scale and framing), a
   12x12 colour thumbnail of its upper half (the part no mask covers) and a 4x4 one of the whole
   picture, brightness and contrast removed from both; each computed on the picture and on its
   mirror image and summed, so a picture and its mirror have the same features;
2. PCA, then linear discriminant analysis with the person as the class (scikit-learn's; the
   classic "Fisherfaces"): the directions along which a person's seven pictures stay together
   and persons differ. It learns to ignore the mask and the jitter of a sitting by itself.

Measured on validation persons grouped from their pixels (`python bench/person_grouping.py`,
docs/person-vote.md): the discriminant step lifts the adjusted Rand index from 0.14 (PCA alone,
at its best cut) to 0.992 on facebench, and from 0.82 to 1.000 on the drawn demo data, whose seven
pictures are drawn separately. On a harder facebench whose pictures of a sitting are mirrored,
turned, rescaled, framed and lit independently (bench/hard_sittings.py) the mirror-summed and
coarse features lift it from 0.092 to 0.221: still poor groups, which is why the vote measures what
it does on validation before acting (predict/vote_guard.py). A trained model's pooled features are
not used: they are made to tell masks apart (which a person's pictures differ in) and genders and
ages (which many persons share), not persons, and they would tie the grouping to one model of an
ensemble.

Clustering is scikit-learn's average-linkage agglomerative clustering on a k-nearest-neighbour
graph (memory linear in the pictures: the competition's 12,600 take about 10 s and under 400 MB
on 2 CPU cores, where a full distance matrix alone would hold 600 MB), cut at the cosine
distance that recovers other training persons (not those the projection was fitted on) best, by
adjusted Rand index, and never into groups larger than a
person's pictures (`person_vote_size`, 7 in the competition): a subtree over that size is split
into its two branches. Without that limit average linkage chains look-alike persons together
(on facebench's validation persons an adjusted Rand index of 0.87 at its best cut, 0.993 with it).
Groups come out of any size up to the limit; a picture far from every other stays a group of one.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import sklearn
from sklearn.cluster import AgglomerativeClustering
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import kneighbors_graph

from data_loader.images import read_rgb

HOG_SIZE = 48          # the picture's side for its gradient histogram
HOG = cv2.HOGDescriptor((HOG_SIZE, HOG_SIZE), (16, 16), (8, 8), (8, 8), 9)  # window, block, stride, cell, bins
COARSE_HOG_SIZE = 24   # the same at half the size: more tolerant of turn, scale and framing
COARSE_HOG = cv2.HOGDescriptor((COARSE_HOG_SIZE, COARSE_HOG_SIZE), (16, 16), (8, 8), (8, 8), 9)
THUMB = 12             # thumbnail side of the upper half
COARSE_THUMB = 4       # thumbnail side of the whole picture
COMPONENTS = 150       # principal components before the discriminant analysis
DIRECTIONS = 64        # discriminant directions kept
NEIGHBOURS = 12        # the graph joins each picture to this many nearest others
FIT_PERSONS = 1600     # training persons the projection learns from (at most)
CUT_PERSONS = 600      # other training persons the cut is calibrated on (at most a quarter of them)
CUTS = np.round(np.arange(0.02, 0.80, 0.01), 3)  # cosine distances tried by the calibration


def read_small(file: str) -> np.ndarray:
    """A picture decoded at a quarter of its size where the format allows (JPEG): the embedding
    needs 48x48, and the 12,600 eval pictures decode about four times faster."""
    image = cv2.imread(file, cv2.IMREAD_REDUCED_COLOR_4)
    if image is None:
        return read_rgb(file)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def raw_features(image: np.ndarray) -> np.ndarray:
    """One picture's raw features, unchanged when the picture is mirrored (module doc)."""
    image = np.ascontiguousarray(image)
    return _one_side(image) + _one_side(np.ascontiguousarray(image[:, ::-1]))


def _one_side(image: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(cv2.resize(image, (HOG_SIZE, HOG_SIZE), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, (COARSE_HOG_SIZE, COARSE_HOG_SIZE), interpolation=cv2.INTER_AREA)
    upper = image[:max(2, image.shape[0] // 2)]
    return np.concatenate([HOG.compute(gray).ravel(), COARSE_HOG.compute(small).ravel(),
                           _thumbnail(upper, THUMB), _thumbnail(image, COARSE_THUMB)])


def _thumbnail(image: np.ndarray, side: int) -> np.ndarray:
    thumb = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
    return ((thumb - thumb.mean()) / (thumb.std() + 1.0)).ravel() / side


def features(files: Sequence[str]) -> np.ndarray:
    """(N, D) raw features of the pictures (module doc)."""
    with ThreadPoolExecutor(min(32, 2 * (os.cpu_count() or 1))) as pool:  # OpenCV releases the GIL
        return np.stack(list(pool.map(lambda file: raw_features(read_small(file)), files))).astype(np.float32)


@dataclass
class Grouper:
    """A projection fitted on known persons and a cut calibrated on others; `groups()` applies them."""

    pca: PCA
    lda: LinearDiscriminantAnalysis
    cut: float
    calibration_ari: float
    largest: int = 7  # no group grows past this many pictures (0: no limit)

    @classmethod
    def fit(cls, files: Sequence[str], persons: Sequence, seed: int = 0, largest: int = 7) -> Grouper:
        """Learn the projection from some of these persons' pictures and the cut from the rest;
        no group grows past `largest` pictures (0: no limit)."""
        files, persons = np.asarray(files), np.asarray(persons)
        order = np.random.default_rng(seed).permutation(np.unique(persons))
        cut_n = min(CUT_PERSONS, len(order) // 4)  # the cut is calibrated on as many persons as can be spared
        if cut_n < 5:
            raise ValueError(f"{len(order)} persons are too few to learn a grouping from (at least 20)")
        fit_set = np.isin(persons, order[cut_n:cut_n + FIT_PERSONS])
        cut_set = np.isin(persons, order[:cut_n])
        raw = features(files[fit_set])
        pca = PCA(n_components=min(COMPONENTS, raw.shape[1], len(raw) - 1), random_state=0).fit(raw)
        lda = LinearDiscriminantAnalysis(n_components=min(DIRECTIONS, len(np.unique(persons[fit_set])) - 1,
                                                          pca.n_components_))
        lda.fit(pca.transform(raw), persons[fit_set])
        grouper = cls(pca, lda, 0.0, 0.0, largest)
        tree = _tree(grouper.embed(files[cut_set]))
        truth = persons[cut_set]
        scores = [adjusted_rand_score(truth, _cut(tree, len(truth), c, largest)) for c in CUTS]
        best = int(np.argmax(scores))
        grouper.cut, grouper.calibration_ari = float(CUTS[best]), float(scores[best])
        return grouper

    def embed(self, files: Sequence[str]) -> np.ndarray:
        return _unit(self.lda.transform(self.pca.transform(features(files))))

    def groups(self, files: Sequence[str]) -> np.ndarray:
        """A group number per picture (0..G-1, numbered by first appearance)."""
        if len(files) < 2:
            return np.zeros(len(files), np.int64)
        embedded = self.embed(files)
        return _renumber(_cut(_tree(embedded), len(embedded), self.cut, self.largest))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _tree(embedded: np.ndarray) -> AgglomerativeClustering:
    """The full merge tree (cut later at any distance) on the k-nearest-neighbour graph."""
    with sklearn.config_context(working_memory=64):  # distances in 64 MB chunks, not 2 GB ones
        graph = kneighbors_graph(embedded, min(NEIGHBOURS, len(embedded) - 1), metric="cosine", include_self=False)
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=0.0, metric="cosine", linkage="average",
                                    connectivity=graph, compute_full_tree=True)
    with warnings.catch_warnings():  # a graph of several components is completed by scikit-learn: fine
        warnings.simplefilter("ignore", UserWarning)
        return model.fit(embedded)


def _cut(tree: AgglomerativeClustering, n: int, cut: float, largest: int = 0) -> np.ndarray:
    """Cluster labels of the tree cut at `cut`: from the root down, a subtree whose pictures
    merged closer than `cut` (and, with `largest`, that holds at most that many) is one group,
    any other is split into its two children. Without `largest` it is scikit-learn's own
    `distance_threshold` cut on a tree without inversions."""
    children, distances = tree.children_, tree.distances_
    size = np.ones(n + len(children), np.int64)
    for step, (a, b) in enumerate(children):
        size[n + step] = size[a] + size[b]
    label = np.empty(n, np.int64)
    stack, group = [n + len(children) - 1] if len(children) else list(range(n)), 0
    while stack:
        node = stack.pop()
        if node >= n and (distances[node - n] >= cut or largest and size[node] > largest):
            stack.extend(children[node - n])
            continue
        leaves, todo = [], [node]
        while todo:  # every picture under this node
            m = todo.pop()
            if m < n:
                leaves.append(m)
            else:
                todo.extend(children[m - n])
        label[leaves] = group
        group += 1
    return label


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Labels 0..G-1 in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse]


def quality(groups: np.ndarray, persons: np.ndarray) -> dict[str, float]:
    """How well `groups` recover the true `persons`: adjusted Rand index, the share of pictures
    whose group holds one person only, the groups, and the groups of seven."""
    groups, persons = np.asarray(groups), np.asarray(persons)
    _, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    persons_in = np.array([len(np.unique(persons[inverse == g])) for g in range(len(sizes))])
    return {"ari": float(adjusted_rand_score(persons, groups)), "pure": float((persons_in[inverse] == 1).mean()),
            "groups": int(len(sizes)), "of_seven": int((sizes == 7).sum()), "mixed": int((persons_in > 1).sum()),
            "singletons": int((sizes == 1).sum())}


def for_config(cfg, leave_out: Sequence = ()) -> Grouper:
    """A Grouper learnt from the configured data's training persons, but those in `leave_out`
    (the persons an evaluation scores, so it is never fitted on what it is scored on)."""
    from base.errors import UserError
    from data_loader.split import load_table

    table, _ = load_table(cfg)
    table = table[~table["person"].astype(str).isin({str(p) for p in leave_out})]
    if table["person"].nunique() < 20:
        raise UserError("--person-vote: fewer than 20 training persons are left to learn the grouping from "
                        "(a k-fold group's out-of-fold validation scores them all); evaluate one fold's run "
                        "folder instead")
    return Grouper.fit(table["file"].tolist(), table["person"].to_numpy(), seed=cfg.seed,
                       largest=cfg.person_vote_size)
