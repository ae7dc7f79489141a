# training schedule for 2x: 24 epochs, lr x0.1 after epochs 16 and 22.
_base_ = './schedule_1x.py'
lr_config = dict(step=[16, 22])
runner = dict(max_epochs=24)
