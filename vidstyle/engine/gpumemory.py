"""Which physical GPU a process's first CUDA device is, and its free memory, read without
TensorFlow: from NVML (the ``nvidia-ml-py`` package, ``pynvml``) or, without it, ``nvidia-smi``.

Which device: CUDA numbers the devices listed in ``CUDA_VISIBLE_DEVICES`` (indices, ``GPU-...``
UUIDs or unique UUID prefixes, ``MIG-...`` UUIDs; the list ends at the first entry that is none
of these; empty or ``-1`` means no GPU) in that order, so a process's device ``i`` is the list's
``i``-th entry, or the ``i``-th GPU when the variable is unset. Indices follow CUDA's order,
which is "fastest first" unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``; NVML and ``nvidia-smi`` list
GPUs in PCI bus order. :func:`vidstyle.engine.device.configure` sets ``CUDA_DEVICE_ORDER`` to
``PCI_BUS_ID`` when unset (before CUDA starts), and the GPUs here are sorted by PCI bus id, so an
index means the same GPU to CUDA, to this module and to ``nvidia-smi``. When the user has chosen
``FASTEST_FIRST`` and the GPUs are not all the same model, the index cannot be mapped and the
memory is reported unknown.

MIG: a GPU in MIG mode reports the whole card's memory; only a MIG device (a ``MIG-...`` UUID in
``CUDA_VISIBLE_DEVICES``) can be used, and its own memory comes from NVML's MIG handle, or
without NVML from ``nvidia-smi``'s "MIG devices" table (used / total per MIG device, matched to
the UUID by ``nvidia-smi -L``); ``nvidia-smi --query-gpu`` cannot give it. Containers
(Kubernetes' device plugin, Docker's ``--gpus``) usually name the MIG device in
``NVIDIA_VISIBLE_DEVICES`` and leave ``CUDA_VISIBLE_DEVICES`` unset or ``0``: the MIG device is
then the process's device too. There it may also be named by indices, ``<GPU>:<MIG device>``
(``0:1``: GPU 0 in NVML's PCI bus order, its MIG device 1 as ``nvidia-smi -L`` numbers them).
When its UUID (or indices) match none (the older ``MIG-GPU-<uuid>/<gi>/<ci>`` form) and the
process sees exactly one MIG device, that one is it. Values such as ``[N/A]`` or
``[Insufficient Permissions]`` make the memory unknown, with the reason.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

MIG_INDEX = re.compile(r"(\d+):(\d+)")  # a container's MIG device by indices: ``0:1``


def is_mig(entry: str) -> bool:
    """Whether a device entry names a MIG device: a ``MIG-`` UUID, or ``<GPU>:<MIG device>``
    indices (the container toolkit's index form, ``0:1``)."""
    return entry.startswith("MIG-") or MIG_INDEX.fullmatch(entry) is not None


@dataclass(frozen=True)
class Reading:
    """A GPU's free memory in bytes (None: unknown), what the GPU is, why it is unknown, and
    whether a GPU was found at all (``seen``: NVML or ``nvidia-smi`` listed it)."""

    free: int | None
    label: str
    note: str | None = None
    seen: bool = False


def visible_entries(value: str | None) -> list[str] | None:
    """The devices ``CUDA_VISIBLE_DEVICES`` lets CUDA see, in CUDA's order (None: unset, all)."""
    if value is None:
        return None
    entries = []
    for entry in value.split(","):
        entry = entry.strip()
        if entry.isdigit() or entry.startswith(("GPU-", "MIG-")):
            entries.append(entry)
        else:  # CUDA ignores this entry and every one after it ("-1" hides every GPU)
            break
    return entries


def physical_entry(index: int, environ) -> str | None:
    """The ``CUDA_VISIBLE_DEVICES`` entry of the process's CUDA device ``index``, or its index
    among all GPUs when the variable is unset; a container's MIG device from
    ``NVIDIA_VISIBLE_DEVICES`` when ``CUDA_VISIBLE_DEVICES`` is unset or ``0``; None when there
    is no such device."""
    cuda = environ.get("CUDA_VISIBLE_DEVICES")
    container = [e.strip() for e in environ.get("NVIDIA_VISIBLE_DEVICES", "").split(",")]
    migs = [entry for entry in container if is_mig(entry)]
    if migs and (cuda is None or cuda.strip() == "0"):
        return migs[index] if index < len(migs) else None
    entries = visible_entries(cuda)
    if entries is None:
        return str(index)
    return entries[index] if index < len(entries) else None


def read(entry: str, environ, nvml=None) -> Reading:
    """The free memory of the device ``entry`` (see :func:`physical_entry`).

    Args:
        entry: an index (PCI bus order), a ``GPU-`` or ``MIG-`` UUID or prefix.
        environ: the environment (for ``CUDA_DEVICE_ORDER``).
        nvml: the ``pynvml`` module; imported when None, ``nvidia-smi`` when not installed.
    """
    if nvml is None:
        try:
            import pynvml as nvml
        except ImportError:
            return _read_smi(entry, environ)
    try:
        nvml.nvmlInit()
    except Exception as error:  # NVMLError subclasses: no driver library, no permission
        smi = _read_smi(entry, environ)
        return (
            smi if smi.free is not None else Reading(None, smi.label, f"NVML: {error}; {smi.note}")
        )
    try:
        return _read_nvml(nvml, entry, environ)
    except Exception as error:  # NVMLError: not supported, no permission, GPU lost
        return Reading(None, entry, f"NVML cannot read GPU {entry}: {error}")
    finally:
        nvml.nvmlShutdown()


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _read_nvml(nvml, entry: str, environ) -> Reading:
    gpus = []
    for i in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        bus = _text(nvml.nvmlDeviceGetPciInfo(handle).busId)
        gpus.append((bus.upper(), _text(nvml.nvmlDeviceGetUUID(handle)), handle))
    gpus.sort(key=lambda gpu: gpu[0])
    if is_mig(entry):
        return _read_mig(nvml, entry, [handle for _, _, handle in gpus])
    if entry.startswith("GPU-"):
        found = [gpu for gpu in gpus if gpu[1].startswith(entry)]
        if len(found) != 1:
            return Reading(None, entry, f"no single GPU has the UUID {entry}")
    else:
        names = {_text(nvml.nvmlDeviceGetName(handle)) for _, _, handle in gpus}
        note = _order_note(environ, len(names))
        if note or int(entry) >= len(gpus):
            return Reading(None, entry, note or f"there is no GPU {entry}")
        found = [gpus[int(entry)]]
    bus, uuid, handle = found[0]
    if _mig_enabled(nvml, handle):
        note = "the GPU is in MIG mode: give a MIG device's UUID in CUDA_VISIBLE_DEVICES"
        return Reading(None, uuid, note, seen=True)
    return Reading(int(nvml.nvmlDeviceGetMemoryInfo(handle).free), f"{uuid} ({bus})", seen=True)


def _mig_enabled(nvml, handle) -> bool:
    try:
        current, _pending = nvml.nvmlDeviceGetMigMode(handle)
    except Exception:  # NVMLError_NotSupported: a GPU without MIG
        return False
    return current == 1


def _names(entry: str, uuid: str, at: tuple[int, int]) -> bool:
    """Whether ``entry`` names the MIG device ``uuid`` at (GPU, MIG device) indices ``at``."""
    if index := MIG_INDEX.fullmatch(entry):
        return (int(index[1]), int(index[2])) == at
    return uuid.startswith(entry) or entry.startswith(uuid)


def _read_mig(nvml, entry: str, handles) -> Reading:
    found = []  # (uuid, handle, (GPU, MIG device)) of every MIG device the process sees
    for gpu, handle in enumerate(handles):
        if not _mig_enabled(nvml, handle):
            continue
        for i in range(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
            try:
                mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, i)
            except Exception:  # NVMLError_NotFound: no MIG device in this slot
                continue
            found.append((_text(nvml.nvmlDeviceGetUUID(mig)), mig, (gpu, i)))
    matching = [(u, h, at) for u, h, at in found if _names(entry, u, at)]
    if len(matching) == 1 or len(found) == 1:  # else a container's only MIG device
        uuid, mig, _ = (matching or found)[0]
        return Reading(int(nvml.nvmlDeviceGetMemoryInfo(mig).free), uuid, seen=True)
    return Reading(None, entry, f"no MIG device is {entry}", seen=bool(found))


def _order_note(environ, models: int) -> str | None:
    """Why an index cannot be mapped: CUDA's fastest-first order over different GPU models."""
    order = environ.get("CUDA_DEVICE_ORDER", "FASTEST_FIRST")
    if order == "PCI_BUS_ID" or models <= 1:
        return None
    return "CUDA_DEVICE_ORDER is not PCI_BUS_ID and the GPUs differ: cannot tell which one is used"


SMI_QUERY = "index,uuid,pci.bus_id,name,mig.mode.current,memory.free"


def _read_smi(entry: str, environ) -> Reading:
    """The same from ``nvidia-smi`` (no MIG devices: it reports whole GPUs only)."""
    if shutil.which("nvidia-smi") is None:
        return Reading(None, entry, "neither NVML (nvidia-ml-py) nor nvidia-smi is available")
    query = ["nvidia-smi", f"--query-gpu={SMI_QUERY}", "--format=csv,noheader,nounits"]
    try:
        done = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        return Reading(None, entry, f"nvidia-smi failed: {error}")
    rows = [[field.strip() for field in line.split(",")] for line in done.stdout.splitlines()]
    rows = sorted((row for row in rows if len(row) == 6), key=lambda row: row[2].upper())
    if is_mig(entry):
        return _read_smi_mig(entry)
    if entry.startswith("GPU-"):
        found = [row for row in rows if row[1].startswith(entry)]
    else:
        note = _order_note(environ, len({row[3] for row in rows}))
        if note:
            return Reading(None, entry, note)
        found = rows[int(entry) : int(entry) + 1]
    if len(found) != 1:
        return Reading(None, entry, f"nvidia-smi lists no single GPU {entry}")
    _, uuid, bus, _name, mig, free = found[0]
    if mig == "Enabled":
        note = "the GPU is in MIG mode: give a MIG device's UUID in CUDA_VISIBLE_DEVICES"
        return Reading(None, uuid, note, seen=True)
    try:
        return Reading(int(float(free) * 2**20), f"{uuid} ({bus})", seen=True)
    except ValueError:
        return Reading(None, uuid, f"nvidia-smi reports the free memory as {free}", seen=True)


MIG_LISTED = re.compile(r"^\s+MIG .*Device\s+(\d+):\s*\(UUID:\s*(MIG-[^)\s]+)\)")
MIG_ROW = re.compile(r"^\|\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\|\s*(\d+)MiB\s*/\s*(\d+)MiB")


def _read_smi_mig(entry: str) -> Reading:
    """A MIG device's free memory from ``nvidia-smi -L`` (GPU, MIG device index and UUID) and the
    "MIG devices" table of plain ``nvidia-smi`` (used / total MiB per GPU and MIG device)."""
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout  # fmt: skip
        table = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=10,
                               check=True).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        return Reading(None, entry, f"nvidia-smi failed: {error}")
    listed, gpu = [], None  # (gpu, device, uuid)
    for line in listing.splitlines():
        if line.startswith("GPU "):
            gpu = int(line.split()[1].rstrip(":"))
        elif (found := MIG_LISTED.match(line)) and gpu is not None:
            listed.append((gpu, int(found[1]), found[2]))
    matching = [m for m in listed if _names(entry, m[2], m[:2])]
    if len(matching) != 1 and len(listed) != 1:
        return Reading(None, entry, f"nvidia-smi lists no single MIG device {entry}")
    gpu, device, uuid = (matching or listed)[0]
    for line in table.splitlines():
        row = MIG_ROW.match(line)
        if row and (int(row[1]), int(row[4])) == (gpu, device):
            return Reading((int(row[6]) - int(row[5])) * 2**20, uuid, seen=True)
    return Reading(None, uuid, "nvidia-smi shows no memory for this MIG device", seen=True)
