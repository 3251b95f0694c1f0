"""Write tests/data/student_port.npz: a small random XceptionStudent (gpu/train_torch.py) in the student file format,
with faces and PyTorch's probabilities for them, so that tests/test_gpu_port.py can check the Keras port without
PyTorch. Run with a Python that has torch:  python gpu/make_port_fixture.py"""

import json
from pathlib import Path

import numpy as np
import torch
from train_torch import XceptionStudent

torch.manual_seed(0)
widths, stem, dense = (4, 8, 8, 8), 4, 2
model = XceptionStudent(widths, stem, dense)
for m in model.modules():  # non-trivial batch-norm parameters and statistics
    if isinstance(m, torch.nn.BatchNorm2d):
        m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.3, 0.3)
        m.running_mean.uniform_(-0.3, 0.3), m.running_var.uniform_(0.5, 2.0)
model.eval()
faces = torch.randint(0, 256, (6, 1, 48, 48)).float()
with torch.no_grad():
    probs = torch.softmax(model(faces), 1).numpy()
record = {"arch": "fixture", "block_widths": widths, "stem_width": stem, "dense_blocks": dense}
state = {k: v.numpy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
out = Path(__file__).resolve().parents[1] / "tests" / "data" / "student_port.npz"
np.savez_compressed(
    out,
    record=np.array(json.dumps(record)),
    fixture_faces=faces[:, 0].numpy().astype(np.uint8),
    fixture_probs=probs,
    **state,
)
print(out, out.stat().st_size, "bytes")
