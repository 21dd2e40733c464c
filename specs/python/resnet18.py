"""ResNet-18 (He et al., 2016) as torchvision builds it, written with loops:
the Python twin of specs/resnet18.yaml (11,689,512 parameters,
1,814,073,344 MACs). Names follow torchvision's: layer2.0.downsample.0 is the
same module there.

    netcalc summary specs/python/resnet18.py --depth 2
"""

from netcalc import Network


def basic_block(net, out, stride=1):
    """[3×3, out; 3×3, out] + shortcut: the input itself, or its 1×1 projection
    when the block changes the size or the channels."""
    with net.block(type="basic_block") as block:
        net.conv2d("conv1", out_channels=out, kernel_size=3, stride=stride, padding=1, bias=False)
        net.batchnorm2d("bn1")
        net.relu("relu", inplace=True)
        net.conv2d("conv2", out_channels=out, kernel_size=3, padding=1, bias=False)
        net.batchnorm2d("bn2")
        shortcut = block.input
        if stride != 1:
            with net.block("downsample", type="projection", inputs=block.input) as shortcut:
                net.conv2d(0, out_channels=out, kernel_size=1, stride=stride, bias=False)
                net.batchnorm2d(1)
        net.add("add", inputs=["bn2", shortcut])
        net.relu("relu_out", inplace=True)


net = Network("resnet18", input=[3, 224, 224])
net.conv2d("conv1", out_channels=64, kernel_size=7, stride=2, padding=3, bias=False)  # 64×112×112
net.batchnorm2d("bn1")
net.relu("relu", inplace=True)
net.maxpool2d("maxpool", kernel_size=3, stride=2, padding=1)                          # 64×56×56

for stage, out in enumerate([64, 128, 256, 512], start=1):   # down to 512×7×7
    with net.repeat(f"layer{stage}"):
        for index in range(2):
            # the first block of stages 2-4 halves the size
            basic_block(net, out, stride=2 if stage > 1 and index == 0 else 1)

net.adaptiveavgpool2d("avgpool", output_size=1)
net.flatten("flatten")
net.linear("fc", out_features=1000)
