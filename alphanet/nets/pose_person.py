"""A full-length person's mask from BlazePose (MediaPipe's pose detector and its full landmark net, converted).

The selfie segmenter was made for a face and shoulders filling the frame; catalog and street photos show whole
people, small in the frame and in clutter. BlazePose finds them in two steps, as MediaPipe's pose graph does for one
still photo:

1. The detector looks at the photo letterboxed to 224 x 224 and, for each of its 2254 SSD anchors, scores a person
   and places four keypoints; the best detection, averaged with those overlapping it (weighted non-maximum
   suppression), gives the hips' centre and a point whose distance and direction from it give the body's size and
   tilt.
2. That rotated square, enlarged 1.25 times, is cut out at 256 x 256 for the landmark net, which gives 33 body
   landmarks with their visibility, a presence score and a person mask of the square; the mask is warped back onto
   the photo (0 outside the square).

`PosePerson` returns the mask and how sure the pose is: the mean visibility of the 33 landmarks, 0 where no person
was detected or the presence score is under 0.5. A person cut at the waist (the shared cameraman) scores about 0.7,
a whole one about 0.9. On the 603 real validation photos the detector found someone in 153 of the 165 photographs
of people (median 0.93, 140 above 0.8), in 26 of the 51 painted portraits (median 0.76, 3 above 0.8) and in 51 of
the 387 objects (median 0.68 to 0.76; 14 above 0.8: toy figures, a chimp, a moose, a flamingo, a flag, a
pedestrian-crossing sign), so `AlphaNet.segment` uses the mask above 0.8 (PERSON_MIN_CONFIDENCE), in place of
the segmenters' or beside it (`with_person`; MODEL_CARD.md has what it gains and loses).
"""
import math
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alphanet.nets.loop_count import trips
from alphanet.nets.tflite_net import TfliteNet

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
# MediaPipe's SSD anchors for the pose detector: feature maps of stride 8, 16 and 32 with 2, 2 and 6 anchors per
# cell (its five layers of strides 8, 16, 32, 32, 32, two anchors each, the last three sharing one map).
ANCHOR_STRIDES = ((8, 2), (16, 2), (32, 6))
DETECTION_MIN_SCORE = 0.5
SUPPRESSION_MIN_IOU = 0.3
ROI_SCALE = 1.25
PRESENCE_MIN_SCORE = 0.5
POSE_LANDMARKS = 33
# The mean landmark visibility above which AlphaNet uses the pose's mask (module docstring).
PERSON_MIN_CONFIDENCE = 0.8
# The mean probability below which the segmenters' mask beyond the person is taken for background (`with_person`).
EXTRA_MIN_PROBABILITY = 0.85


def with_person(probability: Tensor, person: Tensor, extra_min_probability: float) -> Tensor:
    """The segmentation probability with a person's mask, both `(1, 1, H, W)`: the person's mask alone where the
    segmenters' mask beyond it (probability > 0.5 where the person's is not) has a mean probability below
    `extra_min_probability`, background they attached to the person and are unsure of; else the two together
    (their maximum), keeping what the segmenters are sure of beyond the body: what the person holds or wears loose,
    or a thing the figure is part of (a sign, a flag)."""
    beyond = (probability > 0.5) & (person <= 0.5)
    if bool(beyond.any()) and float(probability[beyond].mean()) < extra_min_probability:
        return person
    return torch.maximum(probability, person)


def detector_anchors() -> Tensor:
    """Anchor centres in the 224 x 224 input, normalised to [0, 1], in the detector's output order (stride, row,
    column, anchor): `(2254, 2)` as (x, y)."""
    centres: List[Tensor] = []
    for stride, per_cell in ANCHOR_STRIDES:
        cells = math.ceil(DETECTOR_SIZE / stride)
        coordinate = (torch.arange(cells, dtype=torch.float32) + 0.5) / cells
        y, x = torch.meshgrid(coordinate, coordinate, indexing="ij")
        grid = torch.stack([x, y], dim=-1).reshape(-1, 1, 2).expand(-1, per_cell, 2)
        centres.append(grid.reshape(-1, 2))
    return torch.cat(centres)


def box_iou(box: Tensor, boxes: Tensor) -> Tensor:
    """IoU of one (x_min, y_min, x_max, y_max) box `(4,)` with each of `boxes` `(K, 4)` -> `(K,)`."""
    top_left = torch.maximum(box[:2], boxes[:, :2])
    bottom_right = torch.minimum(box[2:], boxes[:, 2:])
    overlap = (bottom_right - top_left).clamp(min=0).prod(dim=1)
    area = (box[2:] - box[:2]).prod()
    areas = (boxes[:, 2:] - boxes[:, :2]).prod(dim=1)
    return overlap / (area + areas - overlap).clamp(min=1e-12)


def body_square(hips: Tensor, scale_point: Tensor, scale: float) -> Tuple[Tensor, Tensor]:
    """The landmark net's square, centred on the hips: its side (`scale` times twice the distance from the hips to
    the detector's scale point) and its angle, which turns it so that the scale point lies straight above the hips
    (radians in [-pi, pi), 0 for an upright body). Points `(2,)` as (x, y) in pixels, y down."""
    direction = scale_point - hips
    side = (2 * torch.linalg.norm(direction) * scale).clamp(min=1.0)
    angle = math.pi / 2 - torch.atan2(-direction[1], direction[0])
    return side, angle - 2 * math.pi * torch.floor((angle + math.pi) / (2 * math.pi))


def square_roi_transform(centre: Tensor, side: Tensor, angle: Tensor, height: int, width: int) -> Tensor:
    """The affine map (`F.affine_grid`'s theta, `(1, 2, 3)`) from the rotated square's normalised coordinates
    [-1, 1] to the photo's: the square's x axis runs along (cos a, sin a) in pixels (y down)."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    half = side / 2
    row_x = torch.stack([cos * half * 2 / width, -sin * half * 2 / width, centre[0] * 2 / width - 1])
    row_y = torch.stack([sin * half * 2 / height, cos * half * 2 / height, centre[1] * 2 / height - 1])
    return torch.stack([row_x, row_y])[None]


def photo_to_roi_transform(centre: Tensor, side: Tensor, angle: Tensor, height: int, width: int) -> Tensor:
    """The inverse of `square_roi_transform`: the photo's normalised coordinates -> the square's, `(1, 2, 3)`."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    # A photo point p (pixels) lies at R^T (p - centre) / (side / 2) in the square's [-1, 1] coordinates.
    to_middle_x, to_middle_y = width / 2 - centre[0], height / 2 - centre[1]
    row_x = torch.stack([cos * width / side, sin * height / side, (cos * to_middle_x + sin * to_middle_y) * 2 / side])
    row_y = torch.stack([-sin * width / side, cos * height / side, (cos * to_middle_y - sin * to_middle_x) * 2 / side])
    return torch.stack([row_x, row_y])[None]


class PosePerson(nn.Module):
    """`(1, 3, H, W)` RGB in [0, 1] -> (`(1, 1, H, W)` person probability, pose confidence: a 0-dim tensor in
    [0, 1], 0 where no person was found)."""

    def __init__(self, detector: TfliteNet, landmark_net: TfliteNet):
        super().__init__()
        self.detector = detector
        self.landmark_net = landmark_net
        self.register_buffer("anchors", detector_anchors(), persistent=False)
        # TorchScript reads module attributes, not module-level constants.
        self.detector_size = DETECTOR_SIZE
        self.landmark_size = LANDMARK_SIZE
        self.detection_min_score = DETECTION_MIN_SCORE
        self.suppression_min_iou = SUPPRESSION_MIN_IOU
        self.roi_scale = ROI_SCALE
        self.presence_min_score = PRESENCE_MIN_SCORE
        self.pose_landmarks = POSE_LANDMARKS

    def letterbox(self, rgb: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """The photo scaled into 224 x 224, centred on black: `(1, 3, 224, 224)` in [-1, 1], and where the photo
        lies in it as fractions of its side: its top-left corner and its size, each `(2,)` as (x, y)."""
        height, width = rgb.shape[2], rgb.shape[3]
        side = self.detector_size
        scale = side / max(height, width)
        inner_h, inner_w = max(1, int(round(height * scale))), max(1, int(round(width * scale)))
        resized = F.interpolate(rgb, size=(inner_h, inner_w), mode="bilinear", align_corners=False, antialias=True)
        top, left = (side - inner_h) // 2, (side - inner_w) // 2
        boxed = F.pad(resized, [left, side - inner_w - left, top, side - inner_h - top])
        return boxed * 2 - 1, torch.tensor([left / side, top / side]), torch.tensor([inner_w / side, inner_h / side])

    def detect(self, rgb: Tensor) -> Tuple[bool, Tensor]:
        """The best pose detection's four keypoints in the photo's pixels, `(4, 2)` as (x, y), after weighted
        non-maximum suppression; False where no anchor scores self.detection_min_score."""
        boxed, corner, extent = self.letterbox(rgb)
        raw_boxes, raw_scores = self.detector.outputs(boxed)[:2]
        scores = torch.sigmoid(raw_scores[0, :, 0].clamp(-100.0, 100.0))
        keep = scores >= self.detection_min_score
        if not bool(keep.any()):
            return False, torch.zeros(4, 2)
        raw = raw_boxes[0][keep] / self.detector_size
        anchors = self.anchors[keep]
        scores = scores[keep]
        centre, size = raw[:, 0:2] + anchors, raw[:, 2:4]
        boxes = torch.cat([centre - size / 2, centre + size / 2], dim=1)
        keypoints = raw[:, 4:12].reshape(-1, 4, 2) + anchors[:, None, :]
        best = int(scores.argmax())
        merged = box_iou(boxes[best], boxes) > self.suppression_min_iou
        weights = scores[merged] / scores[merged].sum()
        points = (keypoints[merged] * weights[:, None, None]).sum(dim=0)
        photo_size = torch.tensor([float(rgb.shape[3]), float(rgb.shape[2])])
        return True, (points - corner) / extent * photo_size

    def forward(self, rgb: Tensor) -> Tuple[Tensor, Tensor]:
        height, width = rgb.shape[2], rgb.shape[3]
        found, keypoints = self.detect(rgb)
        person, visibility = torch.zeros_like(rgb[:, :1]), torch.zeros(())  # no one found
        # The landmark net in a loop of one trip or none, not an if (trips, alphanet/nets/loop_count.py). A
        # presence score under the minimum, or not a number, leaves no one found.
        for _ in range(trips(found)):
            # The landmark net's square: centred on the hips (keypoint 0), turned so that keypoint 1 lies straight
            # above them, enlarged 1.25 times as in BlazePose's training.
            hips = keypoints[0]
            side, angle = body_square(hips, keypoints[1], self.roi_scale)
            to_photo = square_roi_transform(hips, side, angle, height, width)
            grid = F.affine_grid(to_photo, [1, 3, self.landmark_size, self.landmark_size], align_corners=False)
            crop = F.grid_sample(rgb, grid, mode="bilinear", padding_mode="border", align_corners=False)
            outputs = self.landmark_net.outputs(crop)
            landmarks, presence, mask_logits = outputs[0], outputs[1], outputs[2]
            if float(presence.reshape(-1)[0]) >= self.presence_min_score:
                visibility = torch.sigmoid(landmarks.reshape(-1, 5)[:self.pose_landmarks, 3]).mean()
                to_roi = photo_to_roi_transform(hips, side, angle, height, width)
                grid = F.affine_grid(to_roi, [1, 1, height, width], align_corners=False)
                person = F.grid_sample(torch.sigmoid(mask_logits), grid, mode="bilinear", padding_mode="zeros",
                                       align_corners=False)
        return person, visibility
