"""Same as tools/misc/browse_dataset.py (MMDetection lists it in both)."""

import os.path as osp
import runpy

if __name__ == '__main__':
    runpy.run_path(
        osp.join(
            osp.dirname(osp.dirname(osp.abspath(__file__))),
            'misc',
            'browse_dataset.py',
        ),
        run_name='__main__',
    )
