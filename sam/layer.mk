# Shared by the stacks' Makefiles: SAM builds a layer by running
# `make build-<LogicalId>` in the stack's folder (sam build --build-in-source).
# The extension is built by cargo-lambda on the glibc 2.26 target, the same
# one scripts/package and the checks use, so the build cache is shared, and
# copied to extensions/ with its executable bit. SAM does not tell a
# Makefile the architecture: it is read from the template's Build mapping
# (`Architecture: x86_64` or `arm64`), the one line the function's build
# and the deploy read too.
ARCH := $(shell sed -n 's/^ *Architecture: *\(x86_64\|arm64\) *$$/\1/p' template.yaml)
ifneq ($(words $(ARCH)),1)
$(error template.yaml must set the Build mapping's Architecture to x86_64 or arm64 exactly once, found "$(ARCH)")
endif
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
