"""Evaluation: pure distances, streaming feature statistics, feature extractors (pytorch-fid's Inception
and the offline judges), the scores of a trained generator, and metrics measured during training.

    from ganhelpers.eval import scores
    scores.judge_scores(G, "mnist-5k")
"""
