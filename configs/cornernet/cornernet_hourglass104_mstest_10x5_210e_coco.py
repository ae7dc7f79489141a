_base_ = './cornernet_hourglass104_mstest_8x6_210e_coco.py'
data = dict(samples_per_gpu=5)
# 10 GPUs x 5 images
auto_scale_lr = dict(base_batch_size=50)
