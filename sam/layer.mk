# Shared by the stacks' Makefiles: SAM builds a layer by running
# `make build-<LogicalId>` in the stack's folder (sam build --build-in-source).
# The extension is built by cargo-lambda on the glibc 2.26 target, the same
# one scripts/package and the checks use, so the build cache is shared, and
# copied to extensions/ with its executable bit. ARCH must match the
# stack's Architecture parameter: ARCH=arm64 sam build --parameter-overrides Architecture=arm64
ARCH ?= x86_64
TARGET_x86_64 := x86_64-unknown-linux-gnu.2.26
TARGET_arm64 := aarch64-unknown-linux-gnu.2.26
ROOT := $(abspath ../..)

define extension_layer
	cd $(ROOT) && cargo lambda build --release --extension --target $(TARGET_$(ARCH)) \
		-p $(1) --lambda-dir target/sam-layers/$(ARCH)/$(1)
	mkdir -p $(ARTIFACTS_DIR)/extensions
	cp $(ROOT)/target/sam-layers/$(ARCH)/$(1)/extensions/$(1) $(ARTIFACTS_DIR)/extensions/$(1)
	chmod 755 $(ARTIFACTS_DIR)/extensions/$(1)
endef
