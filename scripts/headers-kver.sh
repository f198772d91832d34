#!/bin/bash
# Print the kernel release of the headers a Debian meta-package (e.g.
# linux-headers-6.12-amd64) stands for, as installed: its first dependency
# names the versioned headers package.  Prints nothing if it is not
# installed.
#
#   headers-kver.sh META
set -uo pipefail

dpkg-query -W -f='${Depends}' "${1:?usage: headers-kver.sh META}" 2>/dev/null |
	sed -n 's/^linux-headers-\([^ ,]*\).*/\1/p'
