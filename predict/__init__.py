"""What turns run folders into predictions: (N, 18) class probabilities, ensembles, submission.csv.

    predictor.py    a run or run-group folder -> its trainer(s) with the saved weights; soft
                    voting of several; predictions of what each was validated on
    submission.py   eval/info.csv with `ans` filled, checked, written atomically; its score

inference.py is their command line; the run groups (group/) predict with them too.
"""
