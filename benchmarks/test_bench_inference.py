"""Inference over the 10,000 MNIST test images through 784-50-100-10 (sigmoid, sigmoid,
softmax: the textbook's chapter-3 network), in batches of 100 and in one batch of 10,000.

Every implementation must give the NumPy reference's probabilities (float32
rounding) before it is timed; ``images_per_s`` in the results is 10,000 /
median time. The quick (untimed) run uses the first 1,000 images.
"""

import numpy as np
import pytest
from harness import measure
from reference_numpy import Network, predict_batches
from workloads import NET_INFER, flat_to_layers, forward_flops, initial_flat
from yardstick import API as YARDSTICK_API
from yardstick import GemmWorkload

BATCHES = (100, 10000)
QUICK_IMAGES = 1000  # the quick (untimed) run
IMPLS = ("numbann", "numpy", "torch", "jax", "yardstick")
API = {"numbann": "model.predict(x, batch_size)",
       "numpy": "the textbook's batched predict loop (chapter 3) in NumPy",
       "torch": "torch.inference_mode forward, per batch",
       "jax": "jax.jit forward, per batch",
       "yardstick": YARDSTICK_API}


def make_predict(impl, x, batch, request):
    flat = initial_flat(NET_INFER)
    if impl == "numpy":
        net = Network(flat_to_layers(NET_INFER, flat.copy()), NET_INFER.act, output="softmax")
        return lambda: predict_batches(net, x, batch)
    if impl == "numbann":
        import impl_numbann

        model = impl_numbann.inference_model(flat)
        return lambda: impl_numbann.predict(model, x, batch)
    if impl == "torch":
        pt = request.getfixturevalue("torch_peer")
        model = pt.build_model(NET_INFER, flat)
        model.eval()
        xt = pt.tensor(x)
        return lambda: pt.predict(model, xt, batch)
    if impl == "jax":
        pj = request.getfixturevalue("jax_peer")
        pred = pj.Predictor(NET_INFER, flat)
        xj = pj.array(x)
        return lambda: pred(xj, batch)
    raise ValueError(impl)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("impl", IMPLS)
def test_inference(benchmark, request, mnist_data, quick, impl, batch):
    _, (x_test, _) = mnist_data
    x = x_test[:QUICK_IMAGES] if quick else x_test
    n = x.shape[0]
    group = f"inference {NET_INFER.name} sigmoid softmax, {n} images, batch {batch}"
    info = dict(shapes=list(NET_INFER.sizes), batch=batch, images=n,
                flops=sum(forward_flops(NET_INFER, min(batch, n - s)) for s in range(0, n, batch)))
    if impl == "yardstick":
        work = GemmWorkload(NET_INFER, x, batch, backward=False)
        work.run()
        measure(benchmark, work.run, group=group, impl=impl, api=API[impl], **info)
        return
    fn = make_predict(impl, x, batch, request)
    out = np.asarray(fn())
    ref = predict_batches(Network(flat_to_layers(NET_INFER, initial_flat(NET_INFER)),
                                  NET_INFER.act, output="softmax"), x, batch)
    assert out.shape == (n, 10)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5, err_msg=f"{impl} {group}")
    measure(benchmark, fn, group=group, impl=impl, api=API[impl], **info)
