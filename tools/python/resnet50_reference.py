"""torchvision's ResNet50 with fixed random weights (no download:
weights=None, seeded, random batch-norm statistics) and its ONNX export: the
network the by-hand ONNX check (test/onnx/check_resnet50.py) and the ResNet50
benchmark (bench/resnet50_vs_pytorch.py) compare netc against."""
import torch
import torchvision


def seeded_resnet50(images, seed=0):
    """The network in eval mode, its classifier scaled so that the logits of
    `images` span about +-4 (random weights give logits in the hundreds,
    whose softmax is one-hot and says nothing)."""
    torch.manual_seed(seed)
    model = torchvision.models.resnet50(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    model.eval()
    with torch.no_grad():
        scale = 4 / model(images).abs().max()
        model.fc.weight *= scale
        model.fc.bias *= scale
    return model


def export_onnx(model, images, path):
    """ONNX opset 13 with a free batch, batch norms kept as nodes."""
    torch.onnx.export(model, images[:1], path, opset_version=13, input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
