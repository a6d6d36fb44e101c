"""PyTorch's side of bench/images.sh: decode + RandomResizedCrop(SIZE) +
horizontal flip + ToTensor + Normalize of ROOT/train through a DataLoader
with WORKERS worker processes (0 = in the main process), batches of 64, for
at least SECONDS. torchvision's transforms when installed, else the same
steps written with PIL directly (torchvision's algorithm: area [0.08, 1],
ratio [3/4, 4/3], 10 tries, centre fallback; bilinear resize).
Prints {"images": N, "seconds": T, "images_per_second": R, "transforms": ...}.

usage: images_torch.py ROOT SIZE WORKERS SECONDS"""
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def pil_random_resized_crop(image, size):
    width, height = image.size
    area = width * height
    for _ in range(10):
        target = area * random.uniform(0.08, 1.0)
        ratio = math.exp(random.uniform(math.log(3 / 4), math.log(4 / 3)))
        w, h = int(round(math.sqrt(target * ratio))), int(round(math.sqrt(target / ratio)))
        if 0 < w <= width and 0 < h <= height:
            top, left = random.randint(0, height - h), random.randint(0, width - w)
            break
    else:
        w, h = width, height
        top, left = 0, 0
    return image.resize((size, size), Image.BILINEAR, box=(left, top, left + w, top + h))


def pil_transform(size):
    def apply(image):
        image = pil_random_resized_crop(image, size)
        if random.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        array = (np.asarray(image, np.float32) / 255.0 - MEAN) / STD
        return torch.from_numpy(array.transpose(2, 0, 1).copy())
    return apply


def make_transform(size):
    try:
        import torchvision.transforms as T
        return T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(),
                          T.Normalize(MEAN.tolist(), STD.tolist())]), "torchvision"
    except ImportError:
        return pil_transform(size), "PIL (torchvision not installed)"


class Folder(torch.utils.data.Dataset):
    def __init__(self, root, transform):
        classes = sorted(os.listdir(root))
        self.items = [(os.path.join(root, c, f), k) for k, c in enumerate(classes)
                      for f in sorted(os.listdir(os.path.join(root, c)))]
        self.transform = transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        path, label = self.items[index]
        with open(path, "rb") as f:
            image = Image.open(f).convert("RGB")
        return self.transform(image), label


def main():
    root, size, workers, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    torch.set_num_threads(1)
    transform, kind = make_transform(size)
    loader = torch.utils.data.DataLoader(Folder(os.path.join(root, "train"), transform), batch_size=64,
                                         shuffle=False, num_workers=workers, drop_last=True)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for images, _ in loader:
            done += images.shape[0]
            if time.perf_counter() - start >= seconds:
                break
    elapsed = time.perf_counter() - start
    print(json.dumps({"images": done, "seconds": round(elapsed, 3),
                      "images_per_second": round(done / elapsed, 1), "transforms": kind}))


if __name__ == "__main__":
    main()
