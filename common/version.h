/*
 * version: the version of seald, sealctl and the package (its changelog
 * says the same: t_man checks).
 */
#ifndef SD_VERSION_H
#define SD_VERSION_H

#define SD_VERSION "0.1.0"

#endif
