# Raspberry Pi: flash the .wic.bz2 (or use bmaptool with the .wic.bmap).
# nooelint: oelint.vars.specific
IMAGE_FSTYPES:append:rpi = " wic.bz2 wic.bmap"
# Thermal sensors and the firmware's throttling flags are read from sysfs.
# nooelint: oelint.vars.specific
IMAGE_INSTALL:append:rpi = " kernel-modules"
