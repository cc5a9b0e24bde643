"""Carrying a clip's sound into the stylized video: copied when the container takes its codec and
nothing is trimmed, else decoded, trimmed to the frames' time span and re-encoded to AAC; muxed
in step with the video so the two interleave.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidstyle.errors import DecodeError
from vidstyle.media.container import ffmpeg_reason, open_input

_COPY_AUDIO = {"mp4": {"aac", "mp3"}, "mov": {"aac", "mp3"}}  # matroska takes any codec
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


class AudioPump:
    """Muxes audio packets up to the current video time so that audio and video interleave."""

    def __init__(self, out, packets: Iterator[tuple[float, av.Packet]]):
        self._out = out
        self._packets = packets
        self._next = next(packets, None)

    def feed(self, until: float) -> None:
        while self._next is not None and self._next[0] < until:
            self._out.mux(self._next[1])
            self._next = next(self._packets, None)

    @classmethod
    def silent(cls, out) -> AudioPump:
        """A pump with nothing to mux, for a clip without sound."""
        return cls(out, (packet for packet in ()))

    def finish(self, end: float) -> None:
        self.feed(end)
        self._packets.close()


@dataclass
class AudioSource:
    """An open audio stream and the part of it to carry over."""

    path: Path
    container: av.container.InputContainer
    stream: av.AudioStream
    origin: float  # source time that output time 0 corresponds to before trimming
    trim_start: float
    trim_end: float | None

    @classmethod
    def open(cls, path: Path, start: float, end: float | None) -> AudioSource | None:
        """Open ``path`` and its first audio stream, or return None when it has none."""
        path = Path(path)
        container = open_input(path)
        if not container.streams.audio:
            container.close()
            return None
        stream = container.streams.audio[0]
        timed = [s for s in container.streams.video if s.start_time is not None] + [stream]
        origin = timed[0].start_time * timed[0].time_base if timed[0].start_time else 0
        return cls(path, container, stream, float(origin), start, end)

    def pump(self, out, fmt: str) -> AudioPump:
        """Add the output audio stream to ``out``: a copy when possible, else AAC."""
        codec = self.stream.codec_context.codec.canonical_name
        fits = fmt == "matroska" or codec in _COPY_AUDIO.get(fmt, ())
        if fits and self.trim_start <= 0 and self.trim_end is None:
            return AudioPump(out, self._copied(out.add_stream_from_template(self.stream)))
        return AudioPump(out, self._encoded(_add_aac(out, self.stream)))

    def _copied(self, target) -> Iterator[tuple[float, av.Packet]]:
        shift = round(self.origin / self.stream.time_base)
        for packet in self._demux():
            if packet.dts is None:
                continue  # the empty packet that flushes a decoder
            packet.dts -= shift
            packet.pts = packet.dts if packet.pts is None else packet.pts - shift
            packet.stream = target
            yield float(packet.pts * packet.time_base), packet

    def _encoded(self, target) -> Iterator[tuple[float, av.Packet]]:
        for frame in _trimmed_pcm(self._resampled(target.codec_context), self._rate_stop(target)):
            for packet in target.encode(frame):
                yield float(packet.pts * packet.time_base), packet
        for packet in target.encode(None):
            yield float(packet.pts * packet.time_base), packet

    def _rate_stop(self, target) -> tuple[int, int | None]:
        """The output sample rate and the output sample index to stop at (None: the end)."""
        rate = target.codec_context.sample_rate
        stop = None if self.trim_end is None else round((self.trim_end - self.trim_start) * rate)
        return rate, stop

    def _resampled(self, ctx) -> Iterator[tuple[float, np.ndarray]]:
        """(output time of the stream's first sample, planar float32 samples of the output)."""
        resampler = av.AudioResampler(format="fltp", layout=ctx.layout.name, rate=ctx.sample_rate)
        first = None
        for packet in self._demux():
            for frame in self._decode(packet):
                if first is None:
                    first = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
                for chunk in resampler.resample(frame):
                    yield first - self.origin - self.trim_start, chunk.to_ndarray()
        for chunk in resampler.resample(None):
            yield (first or 0.0) - self.origin - self.trim_start, chunk.to_ndarray()

    def _demux(self) -> Iterator[av.Packet]:
        try:
            yield from self.container.demux(self.stream)
        except av.error.FFmpegError as exc:
            raise DecodeError(self.path, f"cannot read audio: {ffmpeg_reason(exc)}") from exc

    def _decode(self, packet: av.Packet) -> list[av.AudioFrame]:
        try:
            return packet.decode()
        except av.error.FFmpegError as exc:
            raise DecodeError(self.path, f"cannot read audio: {ffmpeg_reason(exc)}") from exc


def _trimmed_pcm(chunks, rate_stop: tuple[int, int | None]) -> Iterator[av.AudioFrame]:
    """Place resampled chunks on the output timeline, pad a late start, cut to [0, stop).

    Samples are taken as contiguous from the first one's timestamp; gaps are not filled.
    """
    rate, stop = rate_stop
    pos = None  # output sample index of the next chunk's first sample
    for start, data in chunks:
        if pos is None:
            pos = round(start * rate)
            lead = pos if stop is None else min(pos, stop)
            if lead > 0:  # the audio begins after the video: lead in with silence
                yield _pcm_frame(np.zeros((data.shape[0], lead), np.float32), 0, rate)
        lo, hi = max(pos, 0), pos + data.shape[1]
        hi = hi if stop is None else min(hi, stop)
        if hi > lo:
            yield _pcm_frame(data[:, lo - pos : hi - pos], lo, rate)
        pos += data.shape[1]
        if stop is not None and pos >= stop:
            return


def _pcm_frame(data: np.ndarray, pts: int, rate: int) -> av.AudioFrame:
    layout = "mono" if data.shape[0] == 1 else "stereo"
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format="fltp", layout=layout)
    frame.sample_rate = rate
    frame.pts = pts
    frame.time_base = Fraction(1, rate)
    return frame


def _add_aac(out, source) -> av.AudioStream:
    rate = source.codec_context.sample_rate
    channels = 1 if source.layout.nb_channels == 1 else 2
    stream = out.add_stream("aac", rate=rate if rate in _AAC_RATES else 48000)
    stream.layout = "mono" if channels == 1 else "stereo"
    stream.bit_rate = 96000 * channels
    return stream
