"""normlab: how a Transformer block is wired, in small readable PyTorch modules."""
