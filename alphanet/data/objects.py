"""Synthetic foreground objects, each a `Layer` on a square canvas.

Every recipe takes the scene, a centre `(x, y)` and an extent (about the object's largest size in
pixels) and draws with anti-aliased masks (`shapes.py`), strands (`strands.py`) and surfaces from
photos (`textures.py`). Recipes: people (head, torso and limbs with hair strands), garments,
accessories (bags, rings, sunglasses), plain shapes with holes, furry shapes, glassware, veils and
plants. Edge softening, motion blur and the scene layout are in `synthetic.py`.
"""
from dataclasses import dataclass

import cv2
import numpy as np

from alphanet.data.layers import Layer, stack
from alphanet.data.shapes import MaskCanvas, arc, blob, random_polygon, rotate, rounded
from alphanet.data.strands import boundary_roots, draw_strands, grow_strands
from alphanet.data.textures import TexturePool, random_colour, shade, smooth_noise

SKIN_TONES = np.array([[0.98, 0.86, 0.76], [0.94, 0.77, 0.64], [0.86, 0.65, 0.51], [0.73, 0.53, 0.39],
                       [0.56, 0.38, 0.26], [0.37, 0.25, 0.17]], np.float32)
HAIR_COLOURS = np.array([[0.06, 0.05, 0.05], [0.22, 0.14, 0.09], [0.42, 0.27, 0.16], [0.72, 0.55, 0.33],
                         [0.9, 0.8, 0.6], [0.55, 0.22, 0.1], [0.65, 0.65, 0.65]], np.float32)


@dataclass
class Scene:
    """What every recipe draws with: randomness, the canvas size and the photo textures."""

    rng: np.random.Generator
    size: int
    textures: TexturePool

    def canvas(self, supersample: int = 2) -> MaskCanvas:
        return MaskCanvas(self.size, self.size, supersample)

    def surface(self) -> np.ndarray:
        """`(size, size, 3)` a random surface (photo patch, flat, gradient or print)."""
        return self.textures.fill(self.rng, (self.size, self.size))

    def tinted_surface(self, colour: np.ndarray, contrast: float) -> np.ndarray:
        """`(size, size, 3)` a colour given texture by the brightness of a photo patch."""
        brightness = self.textures.photo_patch(self.rng, (self.size, self.size), recolour=False).mean(axis=2)
        detail = 1.0 + contrast * (brightness - brightness.mean())[:, :, None]
        return shade(self.rng, np.clip(colour * detail, 0.0, 1.0))


@dataclass
class Frame:
    """Local coordinates of a recipe: `unit` pixels per unit, rotated `angle` degrees, placed at `origin`."""

    origin: np.ndarray
    unit: float
    angle: float

    def points(self, local) -> np.ndarray:
        """`(N, 2)` local points -> `(N, 2)` canvas points."""
        return rotate(np.asarray(local, np.float64).reshape(-1, 2) * self.unit, self.angle) + self.origin

    def ellipse(self, canvas: MaskCanvas, centre, axes, angle: float = 0.0, value: float = 1.0,
                thickness: float | None = None) -> None:
        canvas.ellipse(self.points(centre)[0], (axes[0] * self.unit, axes[1] * self.unit), angle + self.angle,
                       value, None if thickness is None else thickness * self.unit)

    def capsule(self, canvas: MaskCanvas, points, thickness: float, value: float = 1.0) -> None:
        """A limb, strap or stem: a polyline `thickness` units wide with round ends."""
        canvas.lines(self.points(points)[None], thickness * self.unit, value)

    def polygon(self, canvas: MaskCanvas, points, value: float = 1.0) -> None:
        canvas.polygon(self.points(points), value)


def _mirrored(right_half: list[tuple[float, float]]) -> np.ndarray:
    """An outline symmetric about x = 0 from its right half, listed top to bottom."""
    right = np.array(right_half, np.float64)
    left = right[::-1] * (-1, 1)
    return np.concatenate([right, left])


def _jittered(rng: np.random.Generator, points: np.ndarray, amount: float) -> np.ndarray:
    return points + rng.normal(0, amount, points.shape)


def person(scene: Scene, centre: np.ndarray, extent: float) -> Layer:
    """A person: portrait (cut by the bottom border) or full body, with clothes, skin and hair.

    Local unit: half the head's height; the head is centred on the origin, feet near y = 14.5.
    """
    rng = scene.rng
    if rng.random() < 0.45:
        unit = extent / 15.5
        origin = centre - (0, 6.75 * unit)
    else:
        unit = extent / 6.0
        origin = np.array([centre[0], scene.size - rng.uniform(3.5, 6.5) * unit])
    frame = Frame(origin, unit, rng.uniform(-12, 12))
    head_tilt = rng.uniform(-10, 10)
    body = _body(scene, frame, head_tilt)
    behind, in_front = _hair(scene, frame, head_tilt)
    return stack(behind + [body] + in_front)


def _body(scene: Scene, frame: Frame, head_tilt: float) -> Layer:
    """Legs or skirt, torso and sleeves, then bare skin (head, neck, hands) on top."""
    rng = scene.rng
    shoulder = rng.uniform(1.5, 2.1)
    sleeves = rng.choice(["none", "short", "long"])
    skin, top, bottom = scene.canvas(), scene.canvas(), scene.canvas()
    torso = [(0.45, 1.45), (shoulder, 1.95), (shoulder * rng.uniform(0.75, 0.95), 4.6),
             (shoulder * rng.uniform(0.8, 1.0), 6.7)]
    frame.polygon(top, rounded(_jittered(rng, _mirrored(torso), 0.06)))
    for side in (-1, 1):
        _draw_arm(frame, rng, side, shoulder, sleeves, skin, top)
        _draw_leg(frame, rng, side, shoulder, skin, bottom)
    if rng.random() < 0.35:  # a skirt or dress over the legs
        hem_y, flare = rng.uniform(7.5, 11), shoulder * rng.uniform(1.0, 2.2)
        hem = [(x, hem_y + 0.15 * np.sin(x * rng.uniform(2, 6))) for x in np.linspace(flare, -flare, 12)]
        frame.polygon(bottom, rounded(np.array([(-0.8 * shoulder, 5.0), (0.8 * shoulder, 5.0)] + hem)))
    frame.capsule(skin, [(0, 0.5), (0, 1.6)], rng.uniform(0.75, 0.9))
    frame.ellipse(skin, (0, 0), (0.78, 1.0), head_tilt)
    for side in (-1, 1):
        frame.ellipse(skin, (side * 0.77, 0.1), (0.14, 0.27), head_tilt)
    skin_surface = scene.tinted_surface(SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.1), 0.12)
    return stack([Layer.paint(bottom.alpha(), scene.surface()), Layer.paint(top.alpha(), scene.surface()),
                  Layer.paint(skin.alpha(), skin_surface)])


def _hair(scene: Scene, frame: Frame, head_tilt: float) -> tuple[list[Layer], list[Layer]]:
    """Hair layers behind the body (long hair and its strands) and in front of it (around the face)."""
    rng = scene.rng
    hair_back, hair_front, long_hair = _hair_masses(scene, frame, head_tilt)
    hair_colour = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] if rng.random() < 0.85 else random_colour(rng)
    hair_surface = scene.tinted_surface(hair_colour, 0.8)
    density, mean_length = rng.uniform(0.8, 3.0), rng.uniform(0.1, 0.45)
    back_strands, front_strands = (_hair_strands(scene, mask, frame.unit, density, mean_length, long_hair)
                                   for mask in (hair_back, hair_front))
    return ([Layer.paint(back_strands, hair_surface), Layer.paint(hair_back, hair_surface)],
            [Layer.paint(hair_front, hair_surface), Layer.paint(front_strands, hair_surface)])


def _hair_strands(scene: Scene, hair: np.ndarray, unit: float, density: float, mean_length: float,
                  long_hair: bool) -> np.ndarray:
    """`(H, W)` alpha of strands growing from the edge of a `(H, W)` hair mass: most lie along the
    edge (wisps), some stick straight out (flyaways)."""
    rng = scene.rng
    roots, directions = boundary_roots(hair, rng, per_pixel=density)
    along_edge = rng.random(len(roots)) >= rng.uniform(0.03, 0.35)  # the rest are flyaways
    directions = directions + along_edge * rng.choice([-1, 1], len(roots)) * rng.uniform(0.5, 1.3, len(roots))
    lengths = unit * np.minimum(rng.exponential(mean_length, len(roots)), 2.0)
    paths = grow_strands(rng, roots, directions, lengths, curl=rng.uniform(0.02, 0.2), spread=0.3,
                         gravity=0.15 if long_hair else 0.03)
    canvas = scene.canvas(supersample=4)
    draw_strands(canvas, paths, rng, thickness=(0.2, 0.9), opacity=(0.4, 1.0))
    return canvas.alpha()


def _draw_arm(frame: Frame, rng: np.random.Generator, side: int, shoulder: float, sleeves: str,
              skin: MaskCanvas, top: MaskCanvas) -> None:
    """Upper arm, forearm and hand of one side (-1 left, 1 right), on the skin or the top canvas."""
    raised = rng.random() < 0.15
    upper_angle = np.deg2rad(rng.uniform(50, 160) if raised else rng.uniform(5, 50))
    fore_angle = upper_angle + np.deg2rad(rng.uniform(-110, 40))
    start = np.array([side * (shoulder - 0.4), 2.3])
    elbow = start + 2.9 * np.array([side * np.sin(upper_angle), np.cos(upper_angle)])
    direction = np.array([side * np.sin(fore_angle), np.cos(fore_angle)])
    wrist = elbow + 2.6 * direction
    frame.capsule(skin if sleeves == "none" else top, [start, elbow], 1.0)
    frame.capsule(top if sleeves == "long" else skin, [elbow, wrist], 0.8)
    hand_angle = np.rad2deg(np.arctan2(direction[1], direction[0])) - 90
    frame.ellipse(skin, wrist + 0.45 * direction, (0.36, 0.52), hand_angle)


def _draw_leg(frame: Frame, rng: np.random.Generator, side: int, shoulder: float,
              skin: MaskCanvas, bottom: MaskCanvas) -> None:
    """Thigh, calf and foot of one side: trousers on the bottom canvas, or bare on the skin canvas."""
    hip = np.array([side * 0.5 * shoulder, 6.4])
    thigh_angle = np.deg2rad(rng.uniform(-5, 18))
    knee = hip + 3.6 * np.array([side * np.sin(thigh_angle), np.cos(thigh_angle)])
    calf_angle = thigh_angle + np.deg2rad(rng.uniform(-12, 12))
    ankle = knee + 3.4 * np.array([side * np.sin(calf_angle), np.cos(calf_angle)])
    trousers = rng.random() < 0.6
    frame.capsule(bottom if trousers else skin, [hip, knee, ankle], rng.uniform(1.0, 1.4))
    frame.ellipse(skin if rng.random() < 0.3 else bottom, ankle + (side * 0.3, 0.3), (0.6, 0.25))


def _hair_masses(scene: Scene, frame: Frame, head_tilt: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """`(H, W)` alphas of the hair behind the body, the hair in front (around the face), and
    whether the hair is long."""
    rng = scene.rng
    back, front = scene.canvas(), scene.canvas()
    volume = rng.uniform(1.0, 1.3)
    frame.ellipse(front, (0, -0.12), (0.9 * volume, 0.98 * volume), head_tilt)
    frame.ellipse(front, (0, rng.uniform(0.25, 0.5)), (0.68, 0.82), head_tilt, value=0.0)  # the face
    long_hair = rng.random() < 0.45
    if long_hair:
        width, length = rng.uniform(1.0, 1.7), rng.uniform(2.5, 6.5)
        ends = [(x, length + 0.3 * np.sin(x * rng.uniform(3, 8))) for x in np.linspace(width, -width, 14)]
        outline = np.array([(-0.95 * volume, -0.3), (0, -1.05 * volume), (0.95 * volume, -0.3)] + ends)
        frame.polygon(back, rounded(outline))
    elif rng.random() < 0.25:  # a bun
        frame.ellipse(front, (rng.uniform(-0.3, 0.3), -1.05), (0.45, 0.4))
    return back.alpha(), front.alpha(), long_hair


def garment(scene: Scene, centre: np.ndarray, extent: float) -> Layer:
    """A product shot of clothing: shirt, dress or trousers; sometimes with sheer (semi-transparent) parts."""
    rng = scene.rng
    frame = Frame(centre, extent / 3.0, rng.uniform(-10, 10))
    solid, sheer = scene.canvas(), scene.canvas()
    kind = rng.choice(["shirt", "dress", "trousers"])
    if kind == "shirt":
        long_sleeves = rng.random() < 0.5
        sleeve_end = [(1.35, 0.95), (1.05, 1.0)] if long_sleeves else [(1.5, -0.35), (1.2, -0.05)]
        body = _mirrored([(0.3, -1.05), (0.9, -0.95)] + sleeve_end + [(0.85, -0.3), (0.9, 1.2)])
        body = np.concatenate([body, [(-0.3, -1.05), (0, rng.uniform(-0.9, -0.6))]])
        frame.polygon(solid, rounded(_jittered(rng, body, 0.03)))
        if rng.random() < 0.3:  # sheer sleeves over the solid ones' place
            frame.polygon(solid, rounded(body), value=0.0)
            frame.polygon(solid, rounded(_mirrored([(0.3, -1.05), (0.85, -0.95), (0.85, 1.2)])))
            frame.polygon(sheer, rounded(body))
    elif kind == "dress":
        flare, hem_y = rng.uniform(0.6, 1.6), rng.uniform(1.0, 1.6)
        hem = [(x, hem_y + 0.06 * np.sin(x * rng.uniform(4, 14))) for x in np.linspace(flare, -flare, 20)]
        bodice = np.array([(-0.45, -0.75), (0.45, -0.75), (0.55, -0.6), (0.4, -0.1)] + hem
                          + [(-0.4, -0.1), (-0.55, -0.6)])
        frame.polygon(solid, rounded(_jittered(rng, bodice, 0.02)))
        for side in (-1, 1):
            frame.capsule(solid, [(side * 0.35, -0.72), (side * 0.3, -1.3)], rng.uniform(0.04, 0.15))
        if rng.random() < 0.4:  # a tulle overskirt
            overskirt = [(x * 1.3, hem_y * 1.15 + 0.05 * np.sin(x * 9)) for x in np.linspace(flare, -flare, 20)]
            frame.polygon(sheer, rounded(np.array([(-0.45, -0.1), (0.45, -0.1)] + overskirt)))
    else:
        leg = rng.uniform(0.45, 0.62)
        right_leg = [(0.0, -1.0), (0.62, -1.0), (leg + 0.1, 1.6), (0.08, 1.6), (0.0, -0.35)]
        frame.polygon(solid, rounded(_jittered(rng, np.array(right_leg), 0.02), iterations=1))
        frame.polygon(solid, rounded(_jittered(rng, np.array(right_leg) * (-1, 1), 0.02), iterations=1))
    fabric = scene.surface()
    return stack([Layer.paint(sheer.alpha(), scene.surface()).faded(rng.uniform(0.25, 0.7)),
                  Layer.paint(solid.alpha(), fabric)])


def accessory(scene: Scene, centre: np.ndarray, extent: float) -> Layer:
    """A bag with handles, a ring, or sunglasses with tinted lenses."""
    rng = scene.rng
    kind = rng.choice(["bag", "ring", "sunglasses"])
    if kind == "bag":
        return _bag(scene, Frame(centre + (0, extent * 0.15), extent / 2.6, rng.uniform(-15, 15)))
    if kind == "ring":
        return _ring(scene, centre, extent)
    return _sunglasses(scene, Frame(centre, extent / 3.4, rng.uniform(-20, 20)))


def _bag(scene: Scene, frame: Frame) -> Layer:
    rng = scene.rng
    body, handle = scene.canvas(), scene.canvas()
    taper = rng.uniform(0.0, 0.25)
    outline = np.array([(-1 + taper, -0.6), (1 - taper, -0.6), (1.05, 0.7), (-1.05, 0.7)])
    frame.polygon(body, rounded(_jittered(rng, outline, 0.02), iterations=3))
    handle_width, thickness = rng.uniform(0.35, 0.8), rng.uniform(0.05, 0.16)
    handle_top = arc(np.array([0.0, -0.55]), (handle_width, rng.uniform(0.45, 1.1)), 180, 360)
    for offset in ((0.0,) if rng.random() < 0.6 else (-0.08, 0.08)):
        frame.capsule(handle, handle_top + (offset, 0), thickness)
    if rng.random() < 0.3:  # a long shoulder strap, often leaving the picture
        strap = arc(np.array([0.0, -0.6]), (1.0, rng.uniform(1.5, 3.5)), 180, 360)
        frame.capsule(handle, strap, rng.uniform(0.03, 0.08))
    leather = scene.surface()
    return stack([Layer.paint(handle.alpha(), leather if rng.random() < 0.6 else scene.surface()),
                  Layer.paint(body.alpha(), leather)])


def _ring(scene: Scene, centre: np.ndarray, extent: float) -> Layer:
    rng = scene.rng
    band, gem = scene.canvas(), scene.canvas()
    radius = extent / 2
    axes = (radius, radius * rng.uniform(0.3, 1.0))  # seen at an angle
    angle = rng.uniform(0, 180)
    band.ellipse(centre, axes, angle, thickness=radius * rng.uniform(0.06, 0.3))
    if rng.random() < 0.5:
        top = centre + rotate(np.array([[0.0, -axes[1]]]), angle)[0]
        gem.ellipse(top, (radius * 0.2, radius * 0.16), angle)
    metal = scene.tinted_surface(random_colour(rng, min_value=0.4), 1.2)
    return stack([Layer.paint(band.alpha(), metal),
                  Layer.paint(gem.alpha(), scene.surface()).faded(rng.uniform(0.6, 1.0))])


def _sunglasses(scene: Scene, frame: Frame) -> Layer:
    rng = scene.rng
    lenses, rims = scene.canvas(), scene.canvas()
    lens_axes = (rng.uniform(0.35, 0.5), rng.uniform(0.25, 0.4))
    rim_width = rng.uniform(0.03, 0.12)
    for side in (-1, 1):
        frame.ellipse(lenses, (side * 0.55, 0), lens_axes)
        frame.ellipse(rims, (side * 0.55, 0), lens_axes, thickness=rim_width)
        frame.capsule(rims, [(side * (0.55 + lens_axes[0]), -0.1), (side * 1.7, -0.25 + rng.uniform(-0.2, 0.2))],
                      rim_width * 0.8)
    frame.capsule(rims, arc(np.array([0.0, 0.02]), (0.55 - lens_axes[0], 0.1), 180, 360, points=12), rim_width)
    tint = random_colour(rng) * rng.uniform(0.1, 0.5)
    lens_surface = shade(rng, np.broadcast_to(tint, (scene.size, scene.size, 3)).astype(np.float32))
    return stack([Layer.paint(lenses.alpha(), lens_surface).faded(rng.uniform(0.45, 0.95)),
                  Layer.paint(rims.alpha(), scene.surface())])


def plain_shape(scene: Scene, centre: np.ndarray, extent: float) -> Layer:
    """A blob, ellipse or polygon, sometimes with holes cut through it."""
    rng = scene.rng
    canvas = scene.canvas()
    radius = extent / 2
    kind = rng.choice(["blob", "ellipse", "polygon"])
    if kind == "blob":
        canvas.polygon(blob(rng, centre, radius, roughness=rng.uniform(0.1, 0.8)))
    elif kind == "ellipse":
        canvas.ellipse(centre, (radius, radius * rng.uniform(0.3, 1.0)), rng.uniform(0, 180))
    else:
        outline = random_polygon(rng, centre, radius)
        canvas.polygon(rounded(outline) if rng.random() < 0.5 else outline)
    for _ in range(rng.integers(1, 4) if rng.random() < 0.4 else 0):
        hole_centre = centre + rng.uniform(-0.4, 0.4, 2) * radius
        canvas.polygon(blob(rng, hole_centre, radius * rng.uniform(0.05, 0.3)), value=0.0)
    return Layer.paint(canvas.alpha(), scene.surface())


def furry(scene: Scene, centre: np.ndarray, extent: float) -> Layer:
    """A fluffy body (animal, plush toy, pompom): a blob fringed with fur strands of its own colour."""
    rng = scene.rng
    body = scene.canvas()
    fur_length = extent * rng.uniform(0.02, 0.1)
    body.polygon(blob(rng, centre, extent / 2 - fur_length, roughness=rng.uniform(0.1, 0.5)))
    body_alpha = body.alpha()
    roots, directions = boundary_roots(body_alpha, rng, per_pixel=rng.uniform(1.5, 4.0), inset=(0, fur_length / 2))
    lengths = fur_length * rng.uniform(0.3, 1.0, len(roots))
    paths = grow_strands(rng, roots, directions, lengths, curl=rng.uniform(0.02, 0.15), spread=0.6, segments=6)
    fur = scene.canvas(supersample=4)
    draw_strands(fur, paths, rng, thickness=(0.25, 1.0), opacity=(0.5, 1.0))
    coat = scene.textures.photo_patch(rng, (scene.size, scene.size)) if rng.random() < 0.7 else scene.surface()
    return stack([Layer.paint(body_alpha, coat), Layer.paint(fur.alpha(), coat)])


def glassware(scene: Scene, centre: np.ndarray, extent: float) -> Layer:
    """A bottle, wine glass, tumbler or vase: see-through body, denser rim, bright highlights."""
    rng = scene.rng
    heights = np.linspace(0, 1, 60)
    kind = rng.choice(["bottle", "wine glass", "tumbler", "vase"])
    if kind == "bottle":
        half_widths = np.interp(heights, [0, 0.3, 0.45, 1], [0.1, 0.12, 0.35, 0.35])
    elif kind == "wine glass":
        bowl = 0.3 * np.sqrt(np.clip(1 - ((heights - 0.18) / 0.34) ** 2, 0, 1))  # open rim, round bottom
        half_widths = np.where(heights < 0.5, np.maximum(bowl, 0.025), np.where(heights < 0.93, 0.025, 0.25))
    elif kind == "tumbler":
        half_widths = 0.28 + 0.06 * heights
    else:
        half_widths = 0.2 + 0.13 * np.sin(np.pi * heights * rng.uniform(1, 2))
    outline = np.concatenate([np.stack([half_widths, heights - 0.5], 1),
                              np.stack([-half_widths, heights - 0.5], 1)[::-1]])
    frame = Frame(centre, extent, rng.uniform(-15, 15))
    canvas = scene.canvas()
    frame.polygon(canvas, outline)
    coverage = canvas.alpha()
    # Glass is most opaque at its silhouette, where light crosses the most material.
    depth = cv2.distanceTransform((coverage > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    body, rim = rng.uniform(0.08, 0.45), rng.uniform(1.5, 6.0)
    opacity = body + (1 - body) * np.exp(-depth / rim)
    highlights = scene.canvas()
    for _ in range(rng.integers(1, 4)):
        x = rng.uniform(-0.25, 0.25)
        frame.capsule(highlights, [(x, -0.4), (x + rng.uniform(-0.05, 0.05), 0.4)], rng.uniform(0.01, 0.06))
    shine = cv2.GaussianBlur(highlights.alpha(), (0, 0), rng.uniform(0.5, 3.0)) * coverage
    glass_tint = random_colour(rng, min_value=0.6) * rng.uniform(0.3, 1.0) + rng.uniform(0.0, 0.5)
    glass = Layer.paint(coverage, scene.tinted_surface(np.clip(glass_tint, 0, 1), 0.5)).faded(opacity)
    white = np.ones((scene.size, scene.size, 3), np.float32)
    return stack([glass, Layer.paint(shine, white).faded(rng.uniform(0.5, 0.95))])


def veil(scene: Scene, centre: np.ndarray, extent: float) -> Layer:
    """A sheer fabric: a large soft shape, 20-75 % opaque, with folds and sometimes lace holes."""
    rng = scene.rng
    canvas = scene.canvas()
    canvas.polygon(blob(rng, centre, extent / 2, roughness=rng.uniform(0.2, 0.7)))
    if rng.random() < 0.3:  # lace: a grid of small holes
        step = rng.uniform(5, 14)
        grid = np.mgrid[0:scene.size:step, 0:scene.size:step].reshape(2, -1).T[:, ::-1]
        for point in grid:
            canvas.ellipse(point, (step * 0.25, step * 0.25), value=0.0)
    rows, columns = np.mgrid[0:scene.size, 0:scene.size].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(15, 80)
    folds = 0.8 + 0.2 * np.sin((columns * np.cos(angle) + rows * np.sin(angle)) * 2 * np.pi / period)
    opacity = rng.uniform(0.2, 0.75) * folds * (0.85 + 0.3 * smooth_noise(rng, (scene.size, scene.size)))
    fabric = scene.tinted_surface(random_colour(rng, min_value=0.6), 0.3)
    return Layer.paint(canvas.alpha(), fabric).faded(np.clip(opacity, 0.0, 1.0))


def plant(scene: Scene, centre: np.ndarray, extent: float) -> Layer:
    """Thin stems with leaves: curved lines a few pixels wide and many small ellipses."""
    rng = scene.rng
    stems, leaves = scene.canvas(supersample=4), scene.canvas()
    base = centre + (0, extent / 2)
    count = rng.integers(1, 6)
    paths = grow_strands(rng, np.repeat(base[None], count, axis=0), np.full(count, -np.pi / 2),
                         extent * rng.uniform(0.5, 1.0, count), curl=0.06, spread=0.6, segments=16)
    branch_roots = paths[rng.integers(count, size=count * 2), rng.integers(4, 16, size=count * 2)]
    branches = grow_strands(rng, branch_roots, rng.uniform(-np.pi, 0, count * 2),
                            extent * rng.uniform(0.1, 0.35, count * 2), curl=0.1, spread=0.3, segments=8)
    leaf_size = extent * rng.uniform(0.02, 0.06)
    for group in (paths, branches):
        draw_strands(stems, group, rng, thickness=(0.8, extent * 0.012 + 1), opacity=(1, 1), groups=1)
        for point in group[:, 3::2].reshape(-1, 2):
            leaves.ellipse(point + rng.normal(0, leaf_size, 2), (leaf_size, leaf_size * rng.uniform(0.25, 0.6)),
                           rng.uniform(0, 180))
    green = scene.tinted_surface(np.array([0.2, 0.45, 0.15]) * rng.uniform(0.5, 1.5), 0.6)
    leaf_surface = green if rng.random() < 0.7 else scene.surface()
    return stack([Layer.paint(stems.alpha(), green), Layer.paint(leaves.alpha(), leaf_surface)])


RECIPES = {person: 0.32, garment: 0.14, accessory: 0.12, plain_shape: 0.14, furry: 0.1,
           glassware: 0.06, veil: 0.04, plant: 0.08}
