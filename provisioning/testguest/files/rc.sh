#!/bin/sh
# Early boot of the Mayfly test guest: file systems, loopback, network.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/sshd /tmp
hostname testguest
ip link set lo up
# QEMU user networking always gives the guest 10.0.2.15 with the gateway at
# 10.0.2.2; a static address saves the DHCP round trip. With restrict=on
# nothing the guest sends leaves QEMU.
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
