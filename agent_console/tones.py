"""The softphone's own ring and signal tones, written as small WAV files (no sound from a CDN).

`python -m agent_console.tones` rewrites agent_console/static/sounds/; a test checks the
committed files are what this module makes.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

RATE = 8000
SOUNDS_DIR = Path(__file__).resolve().parent / "static" / "sounds"


def _samples(pattern: list[tuple[float, float]], *, buzz_hz: float = 0.0) -> list[int]:
    """16-bit samples for (frequency, seconds) pieces; frequency 0 is silence."""
    out: list[int] = []
    for frequency, seconds in pattern:
        for n in range(int(RATE * seconds)):
            t = n / RATE
            # A Japanese phone's ring is a 400 Hz tone switched on and off 16 times a second.
            gate = 1.0 if not buzz_hz else float(math.sin(2 * math.pi * buzz_hz * t) >= 0)
            value = math.sin(2 * math.pi * frequency * t) * gate if frequency else 0.0
            out.append(int(value * 12000))
    return out


def wav_bytes(samples: list[int]) -> bytes:
    """A mono 8 kHz 16-bit WAV file of the samples."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buffer.getvalue()


def tones() -> dict[str, bytes]:
    """Every tone file by name: ring (looped while a call rings), ringback, hangup, key."""
    return {
        "ring.wav": wav_bytes(_samples([(400, 1.0), (0, 2.0)], buzz_hz=16)),
        "ringback.wav": wav_bytes(_samples([(400, 1.0), (0, 2.0)])),
        "hangup.wav": wav_bytes(_samples([(400, 0.15), (0, 0.1)] * 3)),
        "key.wav": wav_bytes(_samples([(1000, 0.08)])),
    }


def write(folder: Path = SOUNDS_DIR) -> None:
    """Write the tone files into the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in tones().items():
        (folder / name).write_bytes(data)


if __name__ == "__main__":
    write()
