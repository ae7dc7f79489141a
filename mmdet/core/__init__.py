from .anchor import *  # noqa: F401,F403
from .bbox import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .hook import *  # noqa: F401,F403
from .mask import *  # noqa: F401,F403
from .post_processing import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
from .visualization import *  # noqa: F401,F403
