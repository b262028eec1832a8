public enum ZMQ {}
