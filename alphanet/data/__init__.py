"""Training data: dataset readers, a synthetic generator, training trimaps, augmentation, Datasets.

Layouts accepted (files pair up by name without extension, `a.jpg` with `a.png`; PNG, JPEG, BMP,
TIFF or WebP; 8- or 16-bit alpha):

    Composition (Deep Image Matting, Composition-1k, the synthetic generator's output):
        ROOT/fg/      foreground colours            CompositionReader.from_root(ROOT, [BG_DIR, ...])
        ROOT/alpha/   alpha mattes, same sizes      or CompositionReader(FG_DIR, ALPHA_DIR, [BG_DIR, ...])
        BG_DIR/       any photos; each sample gets a random one, scaled to cover the foreground
                      and randomly cropped, so fg, bg and alpha are all known.

    Photo + matte (P3M-10k, AM-2k, PPM-100):
        ROOT/image/   photos (or images/, img/, original/, blurred_image/, merged/)
        ROOT/alpha/   mattes (or alphas/, matte/, mattes/, mask/)
                      ImageAlphaReader.from_root(ROOT) or ImageAlphaReader(IMAGE_DIR, ALPHA_DIR)
        No separate fg and bg: samples carry fg = bg = the photo and has_fg_bg = False.

    Photo + segmentation mask:
        ROOT/image/   photos (same folder names as above)
        ROOT/mask/    masks 0/255, 0/1 or soft 0..255 (or masks/)
                      ImageMaskReader.from_root(ROOT) or ImageMaskReader(IMAGE_DIR, MASK_DIR)

`from_root` needs exactly one folder of each kind; otherwise pass the folders explicitly. Any
problem (an fg without alpha, sizes that differ, an unreadable file, an empty folder) raises
`DatasetError` naming the file.

Any reader feeds `MattingDataset` (320 px crops around the unknown region) or
`SegmentationDataset` (whole images at 496 x 496); see `datasets.py` for what an item holds.
No dataset at hand? `python -m alphanet.data.synthetic --out DIR --count N` writes one.
"""
from alphanet.data.datasets import MattingDataset, SegmentationDataset
from alphanet.data.image_io import DatasetError
from alphanet.data.readers import CompositionReader, ImageAlphaReader, ImageMaskReader
from alphanet.data.trimap import trimap_from_alpha

__all__ = ["CompositionReader", "DatasetError", "ImageAlphaReader", "ImageMaskReader", "MattingDataset",
           "SegmentationDataset", "trimap_from_alpha"]
