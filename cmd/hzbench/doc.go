// Command hzbench runs hzhook's benchmarks side by side with their baselines (`make bench`) and
// serves the reference receivers they compare against. Run it without arguments for its commands.
package main
