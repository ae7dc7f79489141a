"""Small tensor functions shared by heads."""


def sigmoid_geometric_mean(x, y):
    """``sqrt(sigmoid(x) * sigmoid(y))`` of two logit tensors (same or
    broadcastable shapes): a probability high only where both are."""
    return (x.sigmoid() * y.sigmoid()).sqrt()
