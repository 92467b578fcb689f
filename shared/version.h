/* SPDX-License-Identifier: MIT */
/* The release version, defined once for every program of the service (printed by
 * -v/--version, logged at start, exported in metrics). */
#ifndef PUSH_VERSION_H
#define PUSH_VERSION_H

#define PUSH_VERSION "0.2.0-dev"

#endif
