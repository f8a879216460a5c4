"""The sound the simulated network plays for a recording: a soft murmur as long as the message.

The simulator hears typed words, not sound, so a recording's audio stands for its length only;
it is a real WAV file so that a browser's <audio> element plays it like Twilio's.
"""

from __future__ import annotations

import io
import math
import struct
import wave

RATE = 8000
# Longer recordings play their first minute: enough to hear that the player works.
MAX_SECONDS = 60


def murmur_wav(seconds: int) -> bytes:
    """A mono 8 kHz WAV of a quiet warbling tone lasting `seconds` (1 to MAX_SECONDS)."""
    length = max(1, min(seconds, MAX_SECONDS)) * RATE
    frames = bytearray()
    for n in range(length):
        t = n / RATE
        # A voice-like pitch that wanders, so the player is heard to play something.
        pitch = 180 + 40 * math.sin(2 * math.pi * 0.7 * t)
        frames += struct.pack("<h", int(6000 * math.sin(2 * math.pi * pitch * t)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))
    return buffer.getvalue()
