# shell-vm.sh - sourced by the benchmarks: the domain XML of a guest booted
# by hand (no Mayfly), as a shell user would write it, for comparisons.
#
# shell_vm_xml NAME OVERLAY SSH_PORT MEMORY_MIB [CONSOLE_FILE]
shell_vm_xml() {
	local serial=
	[ -z "${5:-}" ] || serial="<serial type='file'><source path='$5'/><target port='0'/></serial>"
	cat <<XML
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$1</name><memory unit='MiB'>$4</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><apic/></features>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='unsafe'/>
      <source file='$2'/><target dev='sda' bus='sata'/></disk>
    $serial
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <video><model type='vga'/></video><memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-netdev'/><qemu:arg value='user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$3-:22'/>
    <qemu:arg value='-device'/><qemu:arg value='e1000,netdev=n0,bus=pci.0,addr=0x10,romfile='/>
  </qemu:commandline>
</domain>
XML
}
