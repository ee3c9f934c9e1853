import numpy as np
import torch

from data_loader.labels import NUM_CLASSES, age_group, class_name, decode, encode


def test_all_18_classes_round_trip():
    seen = set()
    for mask in range(3):
        for gender in range(2):
            for age in range(3):
                label = encode(mask, gender, age)
                assert decode(label) == (mask, gender, age)
                seen.add(label)
    assert seen == set(range(NUM_CLASSES))


def test_coding_matches_the_competition_table():
    assert encode(0, 0, 0) == 0  # wear, male, <30
    assert encode(1, 1, 2) == 11  # incorrect, female, >=60
    assert encode(2, 1, 1) == 16  # not worn, female, 30-59
    assert class_name(17) == "not worn/female/>=60"


def test_coding_works_on_arrays_and_tensors():
    labels = np.arange(NUM_CLASSES)
    assert (encode(*decode(labels)) == labels).all()
    tensor = torch.arange(NUM_CLASSES)
    assert torch.equal(encode(*decode(tensor)), tensor)


def test_age_groups_official_and_moved_thresholds():
    ages = np.array([18, 29, 30, 57, 58, 59, 60, 70])
    assert age_group(ages).tolist() == [0, 0, 1, 1, 1, 1, 2, 2]
    assert age_group(ages, (30, 58)).tolist() == [0, 0, 1, 1, 2, 2, 2, 2]
