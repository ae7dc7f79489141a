_base_ = './cornernet_hourglass104_mstest_8x6_210e_coco.py'
data = dict(samples_per_gpu=3)
# 32 GPUs x 3 images
auto_scale_lr = dict(base_batch_size=96)
