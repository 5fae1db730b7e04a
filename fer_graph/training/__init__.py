"""Training: protocols (subject-independent k-fold, hold-out), run directories, the GNN fitting tools."""

from ..config import TrainConfig
from .checkpoint import CheckpointMismatchError, check_compatible, load_checkpoint, save_checkpoint
from .run import Fold, FoldJob, TrainingData, dataset_name, fit_folds, make_folds, prepare_data, train
from .splits import groups_of, holdout_split, inner_split, protocol_of, subject_kfold
from .trainer import EpochLog, fit_gnn, predict_proba

__all__ = ["TrainConfig", "EpochLog", "fit_gnn", "predict_proba", "train", "dataset_name", "groups_of",
           "holdout_split", "inner_split", "protocol_of", "subject_kfold", "CheckpointMismatchError",
           "check_compatible", "load_checkpoint", "save_checkpoint", "Fold", "FoldJob", "TrainingData",
           "fit_folds", "make_folds", "prepare_data"]
