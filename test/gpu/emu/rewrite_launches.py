#!/usr/bin/env python3
"""Rewrites CUDA's launch syntax into a call the CUDA emulator can compile.

    kernel<<<grid, block[, shared[, stream]]>>>(args)
becomes
    ::cudaemu::launch(&kernel, "kernel", grid, block[, shared[, stream]])(args)

which host C++ compiles with cuda_runtime.h of this folder (README.md). The
kernel expression is read backwards from `<<<` over names, `::` and balanced
template brackets, so `detail::conv2d<C, H, W>\n    <<<...>>>` is found
across the line break. A `__shared__` declaration (one line) becomes, on its
line, references to arrays the emulator gives each block afresh:
    __shared__ float as[16][17], bs[16][17];
becomes
    static char cudaemu_as; auto &as = ::cudaemu::detail::sharedArray<float[16][17]>(&cudaemu_as);
    static char cudaemu_bs; auto &bs = ...
(the static's address names the array). Line numbers are kept. Usage:
    rewrite_launches.py IN OUT            one file
    rewrite_launches.py --tree IN OUT     every *.cuh, *.cu and *.h under IN
"""
import os
import re
import sys

SHARED = re.compile(r'^([ \t]*)__shared__\s([^;\n]*);', re.MULTILINE)


def kernel_start(text, end):
    """The index where the kernel expression ending at `end` begins."""
    i = end
    while i > 0 and text[i - 1].isspace():
        i -= 1
    depth = 0
    while i > 0:
        c = text[i - 1]
        if c == '>':
            depth += 1
        elif c == '<':
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and not (c.isalnum() or c in '_:'):
            break
        i -= 1
    return i


def rewrite(text, where):
    out = []
    pos = 0
    while True:
        open_at = text.find('<<<', pos)
        if open_at < 0:
            out.append(text[pos:])
            return ''.join(out)
        close_at = text.find('>>>', open_at)
        if close_at < 0:
            raise SystemExit(f'{where}: a <<< without >>>')
        start = kernel_start(text, open_at)
        kernel = text[start:open_at].strip()
        if not kernel:
            raise SystemExit(f'{where}: no kernel before <<< at offset {open_at}')
        config = ' '.join(text[open_at + 3:close_at].split())
        name = ' '.join(kernel.split())
        out.append(text[pos:start])
        # As many line breaks as the launch had, so __LINE__ stays the source's.
        breaks = '\n' * text.count('\n', start, close_at + 3)
        out.append(f'::cudaemu::launch(&{kernel}, "{name}", {config}){breaks}')
        pos = close_at + 3


def top_level_split(text):
    """`text` split at the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in '[({':
            depth += 1
        elif c in '])}':
            depth -= 1
        elif c == ',' and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


DECLARATOR = re.compile(r'^\s*([A-Za-z_]\w*)\s*((?:\[[^\]]*\])*)\s*$')


def shared_arrays(declaration, where):
    """(type, name) of each variable a `__shared__` declaration (without its
    `;`) declares: `float as[16][17], bs[4]` -> float[16][17] as, float[4] bs."""
    declarators = top_level_split(declaration)
    first = re.match(r'^(.*?)\b([A-Za-z_]\w*)\s*((?:\[[^\]]*\])*)\s*$', declarators[0])
    if not first or not first.group(1).strip():
        raise SystemExit(f'{where}: cannot read `__shared__ {declaration};`')
    base = ' '.join(first.group(1).split())
    arrays = [(base + bounds(first.group(3)), first.group(2))]
    for declarator in declarators[1:]:
        match = DECLARATOR.match(declarator)
        if not match:
            raise SystemExit(f'{where}: cannot read `{declarator.strip()}` in '
                             f'`__shared__ {declaration};`')
        arrays.append((base + bounds(match.group(2)), match.group(1)))
    return arrays


def bounds(suffix):
    """`[a][b > c]` as `[(a)][(b > c)]`: a `>` in a template argument must be
    inside parentheses."""
    return re.sub(r'\[([^\]]*)\]', lambda m: f'[({m.group(1).strip()})]', suffix)


def fresh_shared(text, where):
    """Each one-line `__shared__` declaration as per-block arrays."""
    def replace(match):
        refs = ' '.join(f'static char cudaemu_{name}; auto &{name} = '
                        f'::cudaemu::detail::sharedArray<{type_}>(&cudaemu_{name});'
                        for type_, name in shared_arrays(match.group(2), where))
        return match.group(1) + refs
    text = SHARED.sub(replace, text)
    # Any other `__shared__` (two on a line, one split over lines) would stay
    # a static of the host thread, shared by every block: refused.
    for number, line in enumerate(text.split('\n'), 1):
        if re.search(r'\b__shared__\b', line.split('//', 1)[0]):
            raise SystemExit(f'{where}:{number}: expected a __shared__ declaration to stand '
                             'alone on its line, from its start to its `;`')
    return text


def rewrite_file(source, target):
    with open(source, encoding='utf-8') as f:
        text = fresh_shared(rewrite(f.read(), source), source)
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    temp = target + '.tmp'
    with open(temp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(temp, target)


def main(argv):
    if len(argv) == 4 and argv[1] == '--tree':
        for root, _, files in os.walk(argv[2]):
            for name in files:
                if name.endswith(('.cuh', '.cu', '.h')):
                    source = os.path.join(root, name)
                    rewrite_file(source, os.path.join(argv[3], os.path.relpath(source, argv[2])))
        return 0
    if len(argv) == 3:
        rewrite_file(argv[1], argv[2])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
