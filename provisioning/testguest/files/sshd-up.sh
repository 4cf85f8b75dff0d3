#!/bin/sh
# Prints two lines on the serial console, for benchmarks that measure how
# promptly a builder notices the guest is ready: when sshd listens, and
# when the first SSH connection is accepted. Reads /proc/net/tcp with shell
# builtins only, so that watching costs the guest next to nothing.
tcp22() { # STATE (hex, as in /proc/net/tcp): is there a port-22 socket in it?
	while read -r _ local _ st _; do
		case $local:$st in *:0016:$1) return 0 ;; esac
	done < /proc/net/tcp
	return 1
}
until tcp22 0A; do usleep 2000; done
echo "mayfly-testguest: sshd listening" > /dev/ttyS0
until tcp22 01 || tcp22 03; do usleep 2000; done
echo "mayfly-testguest: first ssh connection" > /dev/ttyS0
