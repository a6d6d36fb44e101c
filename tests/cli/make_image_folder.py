"""Writes Fashion-MNIST test images as lossless PNGs in class folders
(ROOT/train/<class>/, ROOT/val/<class>/) and the same images, in the
folders' class-major order, as an idx set (IDX/train-*, IDX/t10k-*), so
training from either must give the same bits.

usage: make_image_folder.py DATA_DIR ROOT IDX TRAIN_COUNT VAL_COUNT"""
import gzip
import os
import struct
import sys

from PIL import Image

# Fashion-MNIST's class names; sorted, they are NOT in label order, which
# is the point: the folder's class index is the sorted order.
NAMES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
         "Bag", "Ankle_boot"]


def read_idx(path):
    with gzip.open(path) as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return [data[16 + i * rows * cols:16 + (i + 1) * rows * cols] for i in range(count)]
    return list(data[8:8 + count])


def write_split(root, split, images, labels, offset):
    """Writes the PNGs; returns (bytes, folder label) in class-major order."""
    classes = sorted(NAMES)
    entries = []
    for i, (image, label) in enumerate(zip(images, labels)):
        name = NAMES[label]
        # Mixed extension case: the listing must accept any.
        file = "%05d.%s" % (offset + i, "PNG" if i % 7 == 3 else "png")
        folder = os.path.join(root, split, name)
        os.makedirs(folder, exist_ok=True)
        Image.frombytes("L", (28, 28), image).save(os.path.join(folder, file))
        entries.append((name, file, image))
    entries.sort(key=lambda e: (e[0].encode(), e[1].encode()))
    return [(e[2], classes.index(e[0])) for e in entries]


def write_idx(idx, prefix, samples):
    os.makedirs(idx, exist_ok=True)
    with open(os.path.join(idx, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 2051, len(samples), 28, 28))
        for image, _ in samples:
            f.write(image)
    with open(os.path.join(idx, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 2049, len(samples)))
        f.write(bytes(label for _, label in samples))


def main():
    data, root, idx, train_count, val_count = sys.argv[1:6]
    train_count, val_count = int(train_count), int(val_count)
    images = read_idx(os.path.join(data, "t10k-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data, "t10k-labels-idx1-ubyte.gz"))
    end = train_count + val_count
    train = write_split(root, "train", images[:train_count], labels[:train_count], 0)
    val = write_split(root, "val", images[train_count:end], labels[train_count:end], train_count)
    write_idx(idx, "train", train)
    write_idx(idx, "t10k", val)
    with open(os.path.join(idx, "classes.txt"), "w") as f:
        f.write("".join(name + "\n" for name in sorted(NAMES)))


if __name__ == "__main__":
    main()
