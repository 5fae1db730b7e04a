"""Training: protocols (subject-independent k-fold, hold-out), the GNN trainer, run directories."""

from .checkpoint import CheckpointMismatchError, check_compatible, load_checkpoint, save_checkpoint
from .run import dataset_name, train
from .splits import groups_of, holdout_split, inner_split, protocol_of, subject_kfold
from .trainer import EpochLog, TrainConfig, fit_gnn, predict_proba

__all__ = ["TrainConfig", "EpochLog", "fit_gnn", "predict_proba", "train", "dataset_name", "groups_of",
           "holdout_split", "inner_split", "protocol_of", "subject_kfold", "CheckpointMismatchError",
           "check_compatible", "load_checkpoint", "save_checkpoint"]
