"""Placement: a user's motion moved into the one frame the models know, and every result moved back.

The models were trained in the canonical frame of the built-in data (docs/architecture.md, section 3): the floor at
y = 0, the first person's root at x = z = 0 facing +Z at frame 0, the second person in the same frame.
A motion recorded anywhere else (2.5 m to the side, facing +X) is first moved there, and a result made
from it (a reconstruction, a reaction, an inpainted clip) is moved back, so that it stands where the
input stood:

    canon, placement = to_canonical(joints)     # (P, T, 22, 3) in any frame -> the canonical frame
    result = from_canonical(result, placement)  # any (..., 22, 3) made in the canonical frame -> the input's

The move is rigid (a turn about the vertical and a shift), so it changes no pose, distance or speed.
The floor is where the built-in data has it: the lowest foot joint of the clip at the height the
skeleton's foot joints have when standing in the rest pose (FOOT_REST_HEIGHT, 2 cm: joints sit inside
the foot, above the sole). A motion whose floor is already within FLOOR_TOLERANCE of that is not moved up or
down: built-in clips (there within 2 mm; body sizes differ) and the real-data loaders' clips (lowest foot
joint at 0, data.augment.canonicalize) keep their exact frame, so the kit's own data passes through unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import skeleton as sk
from .data.augment import facing_angle

FOOT_REST_HEIGHT = float(sk.rest_pose()[sk.FOOT_JOINT_ORDER, 1].min())  # metres above the floor (0.02)
FLOOR_TOLERANCE = 0.025  # metres: a floor this close to the canonical one is left where it is


@dataclass(frozen=True)
class Placement:
    """Where a motion stood: canonical = turn(joints - shift); its inverse puts results back."""

    shift: tuple[float, float, float]  # subtracted first: the first root's x and z at frame 0, the floor's y
    yaw: float                         # the first person's heading at frame 0 (radians about +Y, 0 = +Z)

    @property
    def turn(self) -> np.ndarray:
        """The rotation (3, 3) applied after the shift: about +Y by -yaw."""
        return np.asarray(sk.rot_y(np.array(-self.yaw)), dtype=np.float64)

    def describe(self) -> str:
        x, y, z = self.shift
        return (f"the first person started at x = {x:.2f} m, z = {z:.2f} m, facing {np.degrees(self.yaw):.0f} degrees "
                f"from +Z, floor at y = {y:.2f} m")


def _check_people(joints) -> np.ndarray:
    j = np.asarray(joints)
    if j.ndim != 4 or j.shape[0] < 1 or j.shape[1] < 1 or j.shape[2:] != (sk.N_JOINTS, 3):
        raise ValueError(f"joints must have shape (P, T, 22, 3) with P, T >= 1 (people, frames), got {j.shape}")
    if not np.isfinite(j).all():
        raise ValueError("joints contain NaN or inf")
    return j


def find_placement(joints) -> Placement:
    """The placement of people (P, T, 22, 3): the first person's root and heading at frame 0, the floor."""
    j = _check_people(joints).astype(np.float64)
    floor = float(j[:, :, sk.FOOT_JOINT_ORDER, 1].min()) - FOOT_REST_HEIGHT
    floor = floor if abs(floor) > FLOOR_TOLERANCE else 0.0
    root = j[0, 0, 0]
    return Placement(shift=(float(root[0]), floor, float(root[2])), yaw=float(facing_angle(j[0, 0])))


def to_canonical(joints, placement: Placement | None = None) -> tuple[np.ndarray, Placement]:
    """(P, T, 22, 3) in any frame -> (the same people in the canonical frame, their Placement).

    placement: use this one instead of finding it (e.g. to move a second motion the same way)."""
    j = _check_people(joints)
    placement = find_placement(j) if placement is None else placement
    canon = (j.astype(np.float64) - np.array(placement.shift)) @ placement.turn.T  # (P, T, 22, 3)
    return canon.astype(j.dtype if j.dtype.kind == "f" else np.float32), placement


def from_canonical(joints, placement: Placement) -> np.ndarray:
    """Positions (..., 3) made in the canonical frame -> the frame of the motion `placement` came from."""
    j = np.asarray(joints)
    if j.shape[-1:] != (3,):
        raise ValueError(f"positions must end in 3 (x, y, z), got shape {j.shape}")
    back = j.astype(np.float64) @ placement.turn + np.array(placement.shift)  # turn^-1 = turn^T
    return back.astype(j.dtype if j.dtype.kind == "f" else np.float32)
