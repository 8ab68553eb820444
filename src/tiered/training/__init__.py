"""Training the learned scorer (`tiered train`): item-response targets and a linear fit over text features.

Imports numpy and scipy/sklearn (the `train` extra); nothing here is imported at inference time.
"""
