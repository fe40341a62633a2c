#!/usr/bin/env python3
"""Rewrites CUDA's launch syntax into a call the CUDA emulator can compile.

    kernel<<<grid, block[, shared[, stream]]>>>(args)
becomes
    ::cudaemu::launch(&kernel, "kernel", grid, block[, shared[, stream]])(args)

which host C++ compiles with cuda_runtime.h of this folder (README.md). The
kernel expression is read backwards from `<<<` over names, `::` and balanced
template brackets, so `detail::conv2d<C, H, W>\n    <<<...>>>` is found
across the line break. A `__shared__` declaration (one line) is followed, on
its line, by a call that fills each array it declares with 0xFF bytes when
a block first reaches it, as a GPU's shared memory holds no value a block
can count on. Line numbers are kept. Usage:
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


def declared_names(declaration, where):
    """The variables a `__shared__` declaration (without its `;`) declares."""
    names = []
    for declarator in top_level_split(declaration):
        head = declarator.split('[', 1)[0].split('=', 1)[0]
        match = re.search(r'([A-Za-z_]\w*)\s*$', head)
        if not match:
            raise SystemExit(f'{where}: cannot read the name in `__shared__ {declaration};`')
        names.append(match.group(1))
    return names


def fresh_shared(text, where):
    """Each one-line `__shared__` declaration followed by its fills."""
    def fill(match):
        names = declared_names(match.group(2), where)
        calls = ''.join(f' ::cudaemu::detail::freshShared(&{n}, sizeof {n});' for n in names)
        return match.group(0) + calls
    text = SHARED.sub(fill, text)
    for number, line in enumerate(text.split('\n'), 1):
        if line.lstrip().startswith('__shared__') and 'freshShared' not in line:
            raise SystemExit(f'{where}:{number}: a __shared__ declaration must end on its line')
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
