package main

import "syscall"

type syscallRlimit = syscall.Rlimit

func getStackLimit(rl *syscall.Rlimit) error { return syscall.Getrlimit(syscall.RLIMIT_STACK, rl) }
