SUMMARY = "A minimal systemd image that runs edgellm"
DESCRIPTION = "Boots to systemd, starts edgellm on port 443 (HTTPS) and 80 (redirect), and \
               keeps /var/lib/edgellm (LAN CA, ACME cache) on the persistent root filesystem."
LICENSE = "MIT"

inherit core-image

IMAGE_FEATURES += "ssh-server-dropbear"
IMAGE_INSTALL:append = " packagegroup-edgellm"

# The model is ~470 MiB; leave room for logs and certificates.
IMAGE_ROOTFS_EXTRA_SPACE = "524288"
