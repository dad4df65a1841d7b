#!/usr/bin/env python3
"""The bytes a data folder (or part of it) holds: once per file, and once per link.

Job inputs are hard links to the bucket's files, so "once per file" is the space they take, and
"once per link" is what copies of every input would take (what jobs/ held before inputs were
linked). Directory entries are not counted (du counts them; they are no data).

usage: data_folder.py FOLDER...
"""
import os
import sys


def measure(root):
    once, each, files, seen = 0, 0, 0, set()
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            st = os.lstat(path)
            files += 1
            each += st.st_size
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                once += st.st_size
    return files, once, each


def main():
    for root in sys.argv[1:]:
        files, once, each = measure(root)
        print(f"{root}: {files} files, {once / 2**20:.2f} MiB once per file, {each / 2**20:.2f} MiB once per link")


if __name__ == "__main__":
    main()
