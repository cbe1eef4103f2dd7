"""mnist-toolkit: get, inspect, train on, evaluate and predict with MNIST."""

__version__ = "0.1.0"
