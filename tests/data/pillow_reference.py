"""Pillow's decode of the JPEGs test_image_pillow writes, as raw bytes.

usage: pillow_reference.py DIR  (reads DIR/cases.txt: name scale resize size
per line). For each case writes DIR/name.pillow (the decode, RGB or L as
the case's channel count, at the DCT scale given, via Image.draft) and
DIR/name.pillow_eval (full-size decode, shorter side resized to `resize`
with bilinear filtering, centre crop of size x size: torchvision's
Resize + CenterCrop on PIL images). Exits 77 without Pillow."""
import os
import sys

try:
    from PIL import Image
except ImportError:
    sys.exit(77)


def center_crop_eval(image, resize, size):
    w, h = image.size
    if w <= h:
        ow, oh = resize, int(resize * h / w)
    else:
        ow, oh = int(resize * w / h), resize
    image = image.resize((ow, oh), Image.BILINEAR)
    left, top = int(round((ow - size) / 2.0)), int(round((oh - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def main():
    folder = sys.argv[1]
    for line in open(os.path.join(folder, "cases.txt")):
        name, channels, scale, resize, size = line.split()
        mode = "L" if channels == "1" else "RGB"
        path = os.path.join(folder, name + ".jpg")
        image = Image.open(path)
        if float(scale) < 1:
            w, h = image.size
            # Pillow picks the largest reduction r in 1, 2, 4, 8 with w // r >= the
            # requested width: floor() asks for exactly the reduction 1 / scale.
            image.draft(mode, (int(w * float(scale)), int(h * float(scale))))
        open(os.path.join(folder, name + ".pillow"), "wb").write(image.convert(mode).tobytes())
        full = Image.open(path).convert(mode)
        crop = center_crop_eval(full, int(resize), int(size))
        open(os.path.join(folder, name + ".pillow_eval"), "wb").write(crop.tobytes())


if __name__ == "__main__":
    main()
