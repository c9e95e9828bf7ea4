#!/usr/bin/env python3
"""Where each byte of an idle connection goes: the server's heap at its peak, under
valgrind's DHAT, attributed per connection to the allocation sites that grow with the
number of connections (task, I/O registration, stream buffers, handler data, bookkeeping).

    python3 bench/heap.py                 # echo, current-thread runtime, 2,000 connections
    python3 bench/heap.py --conns 5000 --rss 1950

bench/run imports it: `idle_heap(cmd, conns, idle_tool)` returns the figures and
`idle_heap_md(result, rss_bytes_per_conn)` renders them for BENCHMARKS.md.

How: the server runs under `valgrind --tool=dhat`; `target/release/idle` (bench/src/bin/
idle.rs) opens N connections and makes one round trip on each, so that every handler is
parked in a read; then the idle tool exits (closing them) and the server gets SIGTERM,
so DHAT writes its profile. DHAT's t-gmax figures are the heap at its global peak, which
is while the N connections are open. The same is done with a handful of connections, and
each allocation site's difference between the two runs, divided by the difference in
connections, is its cost per connection: start-up allocations (runtime, logging, the
shared read scratch buffer) cancel out, and so do the few blocks alive at the peak by
chance. Only the standard library is used (Python 3.11+).

malloc's own cost is computed from each site's average block size, glibc's way (an 8-byte
header, rounded up to 16, at least 32 bytes). Blocks aligned beyond 16 bytes (tokio's
task cell and ScheduledIo are `repr(align(128))` on x86_64 and aarch64) come from
posix_memalign, which carves each from a larger chunk and frees the ends: the small free
gaps left between the blocks are estimated by replaying the per-connection allocations
against this machine's glibc (ctypes, mallinfo2) in a child process.
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from procs import Server, log, park_idle, raise_descriptor_limit

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target" / "release"

# (key, label): the order of the table. Every category is shown, even when empty (an idle
# stream owning no buffer is a result too).
CATEGORIES = [
    ("task", "task: the connection's future in tokio's task cell"),
    ("io", "I/O registration: tokio's ScheduledIo"),
    ("stream", "stream buffers: IoStream's own read/write buffers"),
    ("handler", "handler data: allocated while the handler runs"),
    ("bookkeeping", "connection bookkeeping: tcpserver's connection table, close signal, ..."),
    ("other", "other"),
]
LABELS = dict(CATEGORIES)

ALIGNED_ALLOCATORS = ("memalign", "posix_memalign", "aligned_alloc")
# Blocks of a site allocated through posix_memalign are assumed aligned to this (tokio's
# CachePadded types: 128 on x86_64 and aarch64), or to the largest power of two dividing
# their size if smaller. DHAT does not record the alignment asked for.
ASSUMED_ALIGNMENT = 128
MMAP_THRESHOLD = 128 * 1024  # glibc's default M_MMAP_THRESHOLD
PAGE = 4096


# ----- running the server under DHAT -----

def _dhat_run(cmd, conns, idle_tool, out_file, timeout):
    vg = ["valgrind", "--tool=dhat", f"--dhat-out-file={out_file}", *map(str, cmd)]
    started = time.monotonic()
    server = Server(Path(str(cmd[0])).name, vg, pin=False, timeout=timeout)
    try:
        idle = park_idle(server, conns, idle_tool, timeout)
    except BaseException:
        server.stop(timeout=0)
        raise
    if not server.stop(timeout):
        raise RuntimeError(f"{cmd[0]} under DHAT did not exit within {timeout} s of SIGTERM")
    if not Path(out_file).exists():
        raise RuntimeError(f"DHAT wrote no {out_file}: {server.stderr()[-2000:]}")
    with open(out_file) as f:
        dhat = json.load(f)
    return dhat, idle, time.monotonic() - started


# ----- reading DHAT's profile -----

_GENERIC = re.compile(r"(?<=[\w>\]}])<[^<>]*>")


def _function(frame):
    """The function of a DHAT frame ("0x22DF1A: tokio::...::Cell<T,S>::new (in /x/echo)"
    or, with debug info, "0x22DF1A: f (src/x.rs:12)"), without its generic arguments."""
    text = frame.split(": ", 1)[1] if re.match(r"0x[0-9A-Fa-f]+: ", frame) else frame
    text = re.sub(r" \((in )?[^()]*\)$", "", text)
    while True:
        stripped = _GENERIC.sub("", text)
        if stripped == text:
            return text
        text = stripped


_GLUE = re.compile(r"^(malloc|calloc|realloc|memalign|posix_memalign|aligned_alloc|"
                   r"aligned_malloc|__rustc::|__rdl_|__rust_|alloc::|core::|std::|<alloc::|"
                   r"<core::|<std::|hashbrown::raw::|UnknownInlinedFun|\?\?\?)")


def _meaningful(fn):
    # Inlined frames of a debug build are often bare ("{closure#1}", "alloc", "new").
    return "::" in fn and not _GLUE.match(fn)


def _short(fn):
    """crate::…::Type::method for a long path; short paths as they are."""
    if fn.startswith("<"):
        return fn
    parts = fn.split("::")
    tail = 3 if parts[-1] == "{{closure}}" else 2
    return fn if len(parts) <= tail + 1 else "::".join([parts[0], "…", *parts[-tail:]])


def _category(fns):
    """The category of an allocation site from its functions, innermost first."""
    def has(pattern):
        return any(re.search(pattern, f) for f in fns)
    if has(r"^tokio::runtime::task::(core::Cell::new|raw::RawTask::new)"):
        return "task"
    if has(r"^tokio::runtime::io::(registration_set|scheduled_io|driver::Handle::add_source)"):
        return "io"
    inner = next((f for f in fns if _meaningful(f)), "")
    first_ours = next((f for f in fns if f.startswith(("tcpserver::", "<tcpserver::"))), None)
    if first_ours is None or inner.lstrip("<").startswith("tokio::"):
        return "other"  # tokio's own structures (its run queue, ...) and the rest
    if re.match(r"<?tcpserver::iostream::", first_ours):
        return "stream"
    # The connection task's poll: the handler, and the IoStream methods it awaits, are
    # inlined into it (their frames show only with debug info).
    if re.match(r"tcpserver::tcpserver::spawn_connection::\{\{closure\}\}", first_ours):
        return "handler"
    return "bookkeeping"


# What the sites found in the echo server are, checked with a debug-info build
# (CARGO_PROFILE_RELEASE_DEBUG=2, tokio 1.54): (pattern on the site's functions joined by
# " < ", innermost first; what it is). Shown next to the functions.
HINTS = [
    (r"^tokio::runtime::task::core::Cell::new", "tokio's task cell: header, the connection's future, trailer"),
    (r"^tokio::runtime::io::registration_set::RegistrationSet::allocate", "`Arc<ScheduledIo>`"),
    (r"^tcpserver::tcpserver::connections::ConnectionSet::register <", "the close signal's `Arc` (`ShutdownSignal`)"),
    (r"^hashbrown::map::HashMap::insert < tcpserver::tcpserver::connections::ConnectionSet::register",
     "the table of live connections (id → abort handle, close signal)"),
    (r"^tokio::runtime::builder::Builder::build_current_thread_runtime_components",
     "the current-thread scheduler's run queue: it grew to hold every handler woken at once"),
    # One block per connection: not the thread's scratch itself (which is one per thread).
    (r"std::thread::local::LocalKey::with < .*tcpserver::tcpserver::spawn_connection::\{\{closure\}\}",
     ("a Vec of the handler's grown by a read copying out of IoStream's shared scratch (echo's `line`)",
      "IoStream's read scratch buffer, shared by the thread's streams")),
]


def _hint(fns, per_conn):
    chain = " < ".join(f for f in fns if _meaningful(f) or f.startswith("std::thread::local::LocalKey"))
    text = next((text for pattern, text in HINTS if re.search(pattern, chain)), None)
    return text[0 if per_conn else 1] if isinstance(text, tuple) else text


def _describe(fns, per_conn=True):
    """Where a site allocates: its innermost meaningful function and, if different, the
    first of tcpserver's on the way out; `per_conn`: it has a block per connection."""
    inner = next((f for f in fns if _meaningful(f)), fns[0] if fns else "?")
    ours = next((f for f in fns if f.startswith(("tcpserver::", "<tcpserver::"))), None)
    parts = [f"`{_short(inner)}`"]
    if ours and any(f.startswith("std::thread::local::LocalKey::with")
                    for f in fns[:fns.index(ours)]):
        parts.insert(0, "`LocalKey::with`")  # a thread-local on the way
    if ours and ours != inner:
        parts.append(f"`{_short(ours)}`")
    hint = _hint(fns, per_conn)
    return " ← ".join(parts) + (f": {hint}" if hint else "")


def chunk_size(request):
    """glibc's chunk for a malloc(request): an 8-byte header, rounded up to 16, at least
    32; a block at or above the mmap threshold is its own mapping, in whole pages."""
    if request >= MMAP_THRESHOLD:
        return (request + 16 + PAGE - 1) // PAGE * PAGE
    return max(32, (request + 8 + 15) & ~15)


def _alignment(fns, size):
    if not any(f in ALIGNED_ALLOCATORS for f in fns):
        return 0
    align = 16
    while align < ASSUMED_ALIGNMENT and size % (align * 2) == 0:
        align *= 2
    return align


def _sites(dhat, by_name=False):
    """Allocation sites at t-gmax, keyed by their frames (the same binary loads at the
    same addresses under valgrind) or, `by_name`, by their functions alone: bytes,
    blocks, chunk bytes, and what the replay needs."""
    ftbl = dhat["ftbl"]
    sites = {}
    for pp in dhat["pps"]:
        fns = tuple(_function(ftbl[i]) for i in pp["fs"])
        key = fns if by_name else tuple(ftbl[i] for i in pp["fs"])
        s = sites.setdefault(key, {"fns": fns, "gb": 0, "gbk": 0, "chunk": 0, "tl": 0, "tbk": 0,
                                   "sizes": []})
        s["gb"] += pp.get("gb", 0)
        s["gbk"] += pp.get("gbk", 0)
        if pp.get("gbk"):
            avg = pp["gb"] / pp["gbk"]
            s["chunk"] += pp["gbk"] * chunk_size(round(avg))
            s["sizes"].append(avg)
        s["tl"] += pp.get("tl", 0)
        s["tbk"] += pp.get("tbk", 0)
    return sites


# ----- posix_memalign's gaps -----

_REPLAY = r"""
import ctypes, json, sys
phases, n = json.loads(sys.argv[1]), int(sys.argv[2])
libc = ctypes.CDLL(None)
class MallInfo2(ctypes.Structure):
    _fields_ = [(f, ctypes.c_size_t) for f in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.posix_memalign.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_size_t]
p = ctypes.c_void_p()
pp = ctypes.pointer(p)
keep = [0] * (n * sum(map(len, phases)))  # allocated up front: no malloc of ours in the loop
k = 0
m = libc.mallinfo2()
before = m.arena - m.keepcost
for phase in phases:
    for _ in range(n):
        for size, align in phase:
            if align:
                libc.posix_memalign(pp, align, size)
                keep[k] = p.value
            else:
                keep[k] = libc.malloc(size)
            k += 1
m = libc.mallinfo2()
print((m.arena - m.keepcost - before) / n)
"""


def _replay(phases, n=10_000):
    """Heap growth per connection (the main arena's, less its releasable top) when glibc
    serves, for each phase in turn, that phase's blocks [(size, alignment)] to n
    connections; None where that cannot be measured (not glibc)."""
    if not any(phases):
        return None
    try:
        out = subprocess.run([sys.executable, "-c", _REPLAY, json.dumps(phases), str(n)],
                             capture_output=True, text=True, timeout=120)
        return float(out.stdout.strip()) if out.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError):
        return None


def _phases(sites):
    """The blocks allocated once (or k times) per connection, in the order the server
    allocates them: by mean lifetime, longest first (all were freed at about the same
    time, at the end). Blocks that lived much shorter were allocated in a later pass over
    the connections (echo's line buffer: when the first bytes arrived, after every accept),
    so they are replayed after all of the first pass, where they fill its gaps."""
    per_conn = [s for s in sites
                if round(s["blocks"]) >= 1 and abs(s["blocks"] - round(s["blocks"])) < 0.1]
    per_conn.sort(key=lambda s: -s["lifetime"])
    phases = []
    for s in per_conn:
        if not phases or s["lifetime"] < 0.8 * phases[-1][0]:
            phases.append((s["lifetime"], []))
        phases[-1][1].extend([(round(s["block_size"]), s["alignment"])] * round(s["blocks"]))
    return [blocks for _, blocks in phases]


# ----- the measurement -----

def idle_heap(cmd, conns, idle_tool, rss_bytes_per_conn=None, baseline_conns=10,
              timeout=300, keep_dir=None):
    """Runs `cmd` (a server printing `listening on HOST:PORT` on stderr) under DHAT twice,
    with `baseline_conns` and with `conns` idle connections parked by `idle_tool`, and
    attributes the heap growth per connection to categories.

    Returns {"conns", "baseline_conns", "rows": [(category, bytes requested, bytes with
    malloc's rounding, blocks, where)] per connection, "heap_per_conn", "chunk_per_conn",
    "align_gap_range" and its middle "align_gap_per_conn" (malloc's gaps around aligned
    blocks, estimated; None if not), "task_cell_bytes", "scheduled_io_bytes", "sites" (the
    detail), "rss_bytes_per_conn" (as given), "idle_under_valgrind" (the idle tool's line;
    its RSS is valgrind's, not representative), "command", "seconds"}. `keep_dir`: where to
    keep DHAT's profiles (for dh_view.html); by default they are deleted.
    """
    if not shutil.which("valgrind"):
        raise RuntimeError("valgrind is not installed")
    if conns <= baseline_conns:
        raise ValueError(f"conns ({conns}) must exceed baseline_conns ({baseline_conns})")
    if not raise_descriptor_limit(conns):
        raise RuntimeError(f"{conns} connections need {conns + 4096} descriptors, above this "
                           f"machine's hard limit (ulimit -Hn)")
    workdir = Path(keep_dir) if keep_dir else Path(tempfile.mkdtemp(prefix="heap-dhat-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        runs = {}
        for n in (baseline_conns, conns):
            log(f"  DHAT: {Path(str(cmd[0])).name} with {n} idle connections...")
            runs[n] = _dhat_run(cmd, n, idle_tool, workdir / f"dhat-{n}.json", timeout)
    finally:
        if not keep_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    base, full = _sites(runs[baseline_conns][0]), _sites(runs[conns][0])
    if len(base.keys() & full.keys()) < len(base) // 2:
        # The runs' addresses differ: match their sites by function names instead.
        base, full = _sites(runs[baseline_conns][0], True), _sites(runs[conns][0], True)
    delta = conns - baseline_conns

    sites = []
    for key, s in full.items():
        fns = s["fns"]
        b = base.get(key, {"gb": 0, "gbk": 0, "chunk": 0})
        gb = (s["gb"] - b["gb"]) / delta
        if gb < 0.5:  # not growing with the connections (or by less than half a byte each)
            continue
        sizes = s["sizes"]
        size = sum(sizes) / len(sizes) if sizes else 0
        sites.append({
            "category": _category(fns),
            "where": _describe(fns, (s["gbk"] - b["gbk"]) / delta >= 0.5),
            "bytes": gb,
            "chunk": (s["chunk"] - b["chunk"]) / delta,
            "blocks": (s["gbk"] - b["gbk"]) / delta,
            "block_size": size,
            "alignment": _alignment(fns, round(size)),
            # Mean lifetime: blocks allocated first live longest (the replay's order).
            "lifetime": s["tl"] / s["tbk"] if s["tbk"] else 0,
            "functions": [f for f in fns if _meaningful(f)][:6],
        })
    sites.sort(key=lambda s: -s["bytes"])

    rows = []
    for key, label in CATEGORIES:
        mine = [s for s in sites if s["category"] == key]
        where = "; ".join(
            f"{s['where']} ({s['blocks']:.2g} × {s['block_size']:,.0f} B)" if s["blocks"] >= 0.5
            else f"{s['where']} (one {s['block_size']:,.0f} B block for all)"
            for s in mine[:3]) or "—"
        rows.append((label, sum(s["bytes"] for s in mine), sum(s["chunk"] for s in mine),
                     sum(s["blocks"] for s in mine), where))

    # posix_memalign's gaps: the blocks allocated once per connection, replayed.
    # The gaps depend on the order malloc sees the blocks in, which timing varies (how
    # many accepts before the handlers run, when shared tables grow): replayed both in the
    # server's passes and all interleaved, a range.
    phases = _phases(sites)
    gaps = []
    if any(align for phase in phases for _, align in phase):
        chunks = sum(chunk_size(size) for phase in phases for size, _ in phase)
        for order in (phases, [[b for phase in phases for b in phase]]):
            replayed = _replay(order)
            if replayed is not None:
                gaps.append(replayed - chunks)
    gap_range = [min(gaps), max(gaps)] if gaps else None

    def block_of(category):
        s = next((s for s in sites if s["category"] == category and s["blocks"] >= 0.5), None)
        return round(s["block_size"]) if s else None

    return {
        "conns": conns,
        "baseline_conns": baseline_conns,
        "rows": rows,
        "heap_per_conn": sum(r[1] for r in rows),
        "chunk_per_conn": sum(r[2] for r in rows),
        "align_gap_per_conn": sum(gap_range) / 2 if gap_range else None,
        "align_gap_range": gap_range,
        "replayed_phases": phases,
        "task_cell_bytes": block_of("task"),
        "scheduled_io_bytes": block_of("io"),
        "sites": sites,
        "rss_bytes_per_conn": rss_bytes_per_conn,
        "idle_under_valgrind": runs[conns][1],
        "command": [str(c) for c in cmd],
        "seconds": time.monotonic() - started,
    }


def idle_heap_md(result, rss_bytes_per_conn=None):
    """A Markdown table of `idle_heap`'s result (bytes per connection), with the rest of the
    RSS per connection when it is given (measured natively: under valgrind it is not
    representative), and a paragraph saying how to read it."""
    rss = rss_bytes_per_conn if rss_bytes_per_conn is not None else result.get("rss_bytes_per_conn")
    gap = result.get("align_gap_range")
    n = lambda v: f"{v:,.0f}"
    span = lambda lo, hi: (n(lo) if round(lo) == round(hi)
                           else f"{n(lo)} to {n(hi)}" if lo < 0 else f"{n(lo)}–{n(hi)}")
    lines = ["| category (bytes per idle connection) | bytes requested | bytes with malloc's rounding "
             "| blocks | where (function) |",
             "|---|---:|---:|---:|---|"]
    for label, req, chunk, blocks, where in result["rows"]:
        lines.append(f"| {label} | {n(req)} | {n(chunk)} | {blocks:.2f} | {where} |")
    lines.append(f"| **heap, all live blocks** | **{n(result['heap_per_conn'])}** | "
                 f"**{n(result['chunk_per_conn'])}** | "
                 f"**{sum(r[3] for r in result['rows']):.2f}** | |")
    if gap is not None:
        lines.append(f"| malloc: free gaps around the 128-byte-aligned blocks (estimated) | | "
                     f"{span(*gap)} | | `posix_memalign` carves each aligned block out of a larger "
                     "chunk and frees the ends; replayed against this glibc in two orders |")
    if rss is not None:
        lo, hi = gap or (0, 0)
        rest = span(rss - result["chunk_per_conn"] - hi, rss - result["chunk_per_conn"] - lo)
        lines.append(f"| remainder: RSS not explained by the rows above | | {rest} | | "
                     "page granularity, malloc's state; negative when the connections reused heap "
                     "freed before them (start-up), which the RSS before them already counted |")
        lines.append(f"| **RSS per connection, measured natively** | | **{n(rss)}** | | |")
    task, sio = result.get("task_cell_bytes"), result.get("scheduled_io_bytes")
    sizes = []
    if task:
        sizes.append(f"the task cell is one {task:,}-byte block: tokio's header and trailer around "
                     "the connection's future, which holds the handler's; aligned to 128 bytes, it "
                     "is a multiple of 128")
    if sio:
        sizes.append(f"the I/O registration is one {sio:,}-byte `Arc<ScheduledIo>`, also aligned "
                     "to 128")
    sentence = "; ".join(sizes)
    lines += ["", (
        f"Measured with valgrind's DHAT (`python3 bench/heap.py --conns {result['conns']}`): the "
        f"server's heap at its peak with {result['conns']:,} idle connections minus the same with "
        f"{result['baseline_conns']}, per connection, by allocation site, so that start-up "
        "allocations (the runtime, the read scratch buffer all streams share) do not count. "
        "*Bytes requested* is what the program asked malloc for; *with malloc's rounding* adds "
        "glibc's 8-byte header and rounds to 16 bytes (32 at least). A site with far fewer "
        "blocks than connections is a table shared by all, whose share per connection varies "
        "as it doubles. " + (sentence[:1].upper() + sentence[1:] + ". " if sentence else "")
        + "Blocks aligned beyond 16 bytes come from `posix_memalign`, which cuts each out of a "
        "larger chunk and frees the ends, leaving gaps that only some later blocks fit: the gaps "
        "row replays the per-connection blocks against this machine's glibc, in the server's "
        "passes (accepts, then the handlers' first reads) and all interleaved; which the server "
        "gets depends on timing, so its RSS per connection varies between runs by about that "
        "range. Socket buffers are kernel memory, "
        "outside the RSS (and empty on an idle connection); what remains is page granularity "
        "and heap the connections reused.")]
    return lines


# ----- running it by hand -----

def native_rss_per_conn(cmd, conns, idle_tool, timeout=300):
    """The idle tool's RSS growth per connection, the server running natively."""
    if not raise_descriptor_limit(conns):
        raise RuntimeError(f"{conns} connections need {conns + 4096} descriptors, above this "
                           f"machine's hard limit (ulimit -Hn)")
    server = Server(Path(str(cmd[0])).name, cmd, pin=False)
    try:
        return park_idle(server, conns, idle_tool, timeout)["bytes_per_conn"]
    finally:
        if not server.stop(60):
            log(f"{cmd[0]} did not exit after SIGTERM; killed")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--conns", type=int, default=2000)
    p.add_argument("--runtime", default="current-thread")
    p.add_argument("--rss", type=float, help="RSS bytes per connection measured natively "
                   "(default: measured now with the idle tool, without valgrind)")
    p.add_argument("--keep", help="directory to keep DHAT's profiles in")
    p.add_argument("--json", action="store_true", help="also print the result as JSON")
    args = p.parse_args()
    echo = TARGET / "examples" / "echo"
    idle_tool = TARGET / "idle"
    for path, build in [(echo, "cargo build --release --all-features --example echo"),
                        (idle_tool, "cargo build --release -p tcpserver-bench --bins")]:
        if not path.exists():
            sys.exit(f"{path} is missing: {build}")
    cmd = [echo, "--port", "0", "--address", "127.0.0.1", "--runtime", args.runtime]
    rss = args.rss
    if rss is None:
        log(f"  native: RSS per connection with {args.conns} idle connections...")
        rss = native_rss_per_conn(cmd, args.conns, idle_tool)
    result = idle_heap(cmd, args.conns, idle_tool, rss_bytes_per_conn=rss, keep_dir=args.keep)
    print("\n".join(idle_heap_md(result)))
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    log(f"  ({result['seconds']:.0f} s under valgrind)")


if __name__ == "__main__":
    main()
