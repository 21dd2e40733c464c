"""LeNet-5 (LeCun et al., 1998) on 32×32 grey images, with tanh and average
pooling as the paper has them: 61,706 parameters, 416,520 MACs.

    netcalc summary specs/python/lenet5.py
"""

from netcalc import Network

net = Network("lenet5", input=[1, 32, 32])

# C1-S2 and C3-S4: 5×5 convolutions, each followed by 2×2 subsampling
for k, channels in enumerate([6, 16], start=1):          # 6×28×28 -> 6×14×14, 16×10×10 -> 16×5×5
    net.conv2d(f"conv{k}", out_channels=channels, kernel_size=5)
    net.tanh(f"tanh{k}")
    net.avgpool2d(f"pool{k}", kernel_size=2)

net.flatten("flatten")                                    # 400
# C5 and F6 (C5 sees a 5×5 map: a convolution as wide as its input is a linear layer)
for k, width in enumerate([120, 84], start=1):
    net.linear(f"fc{k}", out_features=width)
    net.tanh(f"tanh_fc{k}")
net.linear("fc3", out_features=10)
