#!/bin/sh
# Prints one line on the serial console as soon as sshd listens, so that a
# benchmark can compare Mayfly's readiness detection with the real moment.
while ! netstat -ltn 2>/dev/null | grep -q ':22 '; do usleep 5000; done
echo "mayfly-testguest: sshd listening" > /dev/ttyS0
