"""Learning: classical models on radial vectors and CNNs on images (paper §2.6)."""

from mxqc.learn.bundle import ModelFileError, default_model_path, load_model, save_model
from mxqc.learn.classical import CLASSICAL_MODELS, train_classical
from mxqc.learn.cnn import ARCHITECTURES
from mxqc.learn.model import ClassicalModel, CnnModel, Model
from mxqc.learn.train import TrainConfig, train_cnn
from mxqc.learn.views import REPRESENTATIONS

__all__ = ["ARCHITECTURES", "CLASSICAL_MODELS", "REPRESENTATIONS", "ClassicalModel",
           "CnnModel", "Model", "ModelFileError", "TrainConfig", "default_model_path",
           "load_model", "save_model", "train_classical", "train_cnn"]
