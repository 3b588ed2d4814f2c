"""A correct solution of the seed's Task 4 ``training_step`` (the driver part is omitted)."""

from layers import l2_regularization, softmax_loss


def training_step(model, X_batch, y_batch, reg):
    scores, cache = model.forward(X_batch)
    data_loss, grad_scores = softmax_loss(scores, y_batch)
    grads = model.backward(grad_scores, cache)
    reg_loss = 0.0
    for name, param in model.parameters().items():
        if name.startswith("W"):
            loss_w, grad_w = l2_regularization(param, reg)
            reg_loss += loss_w
            grads[name] = grads[name] + grad_w
    loss = data_loss + reg_loss
    return loss, grads
