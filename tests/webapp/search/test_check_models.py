"""`check_models` (run by `make run`) imports EfficientNet-Lite0 when the
file is missing, and the web process never imports the ML libraries."""

import io
import subprocess
import sys

from django.core.management import call_command

from tests.shared_data import REPO_ROOT
from vision.backbones.efficientnet_lite import WEIGHTS_FILENAME


def test_check_models_imports_missing_weights_once(tmp_path, settings, efficientnet_weights):
    import shutil

    # Lite1 and Lite2 already there (copied from the run's cache): only Lite0 is imported, which keeps this short
    (tmp_path / "weights").mkdir()
    for name, cached in efficientnet_weights.items():
        if name != "efficientnet_lite0":
            shutil.copy(cached, tmp_path / "weights" / cached.name)
    settings.WEIGHTS_DIR = tmp_path / "weights"
    settings.KERAS_WEIGHTS_DIRS = [str(tmp_path / "keras")]
    out = io.StringIO()
    call_command("check_models", stdout=out)
    text = out.getvalue()
    path = tmp_path / "weights" / WEIGHTS_FILENAME
    assert path.is_file() and path.stat().st_size > 4_000_000  # 4.65 M float32 parameters
    assert "Importing EfficientNet-Lite0" in text and "ok  efficientnet_lite0" in text
    assert "Importing EfficientNet-Lite1" not in text and "ok  efficientnet_lite1" in text
    # optional ones missing: one short line, not two long ones that read like errors (issue 13) ...
    assert "optional, not installed: MobileNetV2" in text and "tf_kernels" not in text
    mtime = path.stat().st_mtime_ns
    out = io.StringIO()
    call_command("check_models", stdout=out, verbosity=2)
    assert "Importing" not in out.getvalue() and path.stat().st_mtime_ns == mtime  # not imported twice
    # ... and where their files would go only when asked
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5" in out.getvalue()


def test_web_process_imports_no_ml_library():
    code = ("import django, os, sys; os.environ['DJANGO_SETTINGS_MODULE']='webapp.settings.test'; django.setup();"
            "import webapp.urls; from django.test import Client;"
            "heavy=[m for m in ('tensorflow','keras','torch','faiss','cv2','dlib','sklearn') if m in sys.modules];"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "HEAVY []" in out.stdout, out.stdout
