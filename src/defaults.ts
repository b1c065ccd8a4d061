import { version as productVersion } from '../package.json';
import defaults from './defaults.json';

/**
 * Build-time defaults: the values the legacy CMake build substituted into the script (@FALCO_VERSION@,
 * @DRIVER_VERSION@, @DRIVERS_REPO@, @DRIVER_NAME@). Packagers edit src/defaults.json before building.
 */
export const BUILD_DEFAULTS: Readonly<{
  falcoVersion: string;
  driverVersion: string;
  driversRepo: string;
  driverName: string;
}> = defaults;

export const PRODUCT_VERSION: string = productVersion;
