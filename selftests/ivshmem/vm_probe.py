#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""VMs without memory, on /dev/kvm or /dev/kvm-soc: the same calls give
the same answers on both.  Prints "key value" lines for the shell tests.

  vm_probe.py DEVICE [hold SECONDS]

A vCPU at reset fetches its first instruction at 0xfffffff0, where a VM
with no memory has nothing: KVM cannot emulate a fetch from MMIO and
exits with KVM_EXIT_INTERNAL_ERROR.  "hold" keeps 3 VMs with a vCPU and
16 MiB of guest memory each for SECONDS (a SoC that dies holding VMs).
"""
import ctypes
import errno
import fcntl
import mmap
import os
import struct
import sys
import time

KVM_GET_VCPU_MMAP_SIZE = 0xAE04
KVM_CREATE_VM = 0xAE01
KVM_CREATE_VCPU = 0xAE41
KVM_RUN = 0xAE80
KVM_SET_USER_MEMORY_REGION = 0x4020AE46
KVM_CREATE_IRQCHIP = 0xAE60


def err(f, *a):
    try:
        f(*a)
        return 0
    except OSError as e:
        return e.errno


def vm_with_vcpu(dev):
    vm = fcntl.ioctl(dev, KVM_CREATE_VM, 0)
    vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
    return vm, vcpu


def main():
    path = sys.argv[1]
    dev = os.open(path, os.O_RDWR)
    if len(sys.argv) > 3 and sys.argv[2] == "hold":
        held = [vm_with_vcpu(dev) for _ in range(3)]
        mems = []
        for vm, _ in held:
            buf = mmap.mmap(-1, 16 << 20, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            buf[0:5] = b"held\n"
            addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
            region = struct.pack("<IIQQQ", 0, 0, 0, 16 << 20, addr)
            fcntl.ioctl(vm, KVM_SET_USER_MEMORY_REGION, region)
            mems.append(buf)
        print("held", len(held), flush=True)
        time.sleep(float(sys.argv[3]))
        return 0

    size = fcntl.ioctl(dev, KVM_GET_VCPU_MMAP_SIZE, 0)
    vm = fcntl.ioctl(dev, KVM_CREATE_VM, 0)
    print("irqchip", err(fcntl.ioctl, vm, KVM_CREATE_IRQCHIP, 0))
    # KVM refuses a second irqchip, and one after vCPUs exist.
    print("irqchip_again", err(fcntl.ioctl, vm, KVM_CREATE_IRQCHIP, 0))
    vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
    print("vcpu_again", err(fcntl.ioctl, vm, KVM_CREATE_VCPU, 0))
    run = mmap.mmap(vcpu, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    print("run", err(fcntl.ioctl, vcpu, KVM_RUN, 0))
    reason, = struct.unpack_from("<I", run, 8)
    suberror, = struct.unpack_from("<I", run, 32)
    print("exit_reason", reason)
    print("suberror", suberror)
    # A memory slot over ordinary memory: KVM takes it (on a SoC machine,
    # soc-kvm moves it into host memory first).
    buf = mmap.mmap(-1, 1 << 20, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    region = struct.pack("<IIQQQ", 0, 0, 0x100000, 1 << 20, addr)
    print("memory_slot", err(fcntl.ioctl, vm, KVM_SET_USER_MEMORY_REGION, region))
    run.close()
    os.close(vcpu)
    os.close(vm)
    # VMs come and go: each one's window is reclaimed and reused.
    t = time.monotonic()
    for _ in range(20):
        v, c = vm_with_vcpu(dev)
        os.close(c)
        os.close(v)
    print("cycles_ms", int((time.monotonic() - t) * 1000 / 20))
    many = [vm_with_vcpu(dev) for _ in range(3)]
    print("at_once", len(many))
    for v, c in many:
        os.close(c)
        os.close(v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
