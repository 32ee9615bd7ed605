// Which part of the picture CLIP read for an axis: the whole image, a zone crop (its box,
// as fractions of the image), or a VQA model's answer. Drawn from the full image with CSS.
import { element } from './api.js';

export function zoneName(zone) {
  if (!zone) return '–';
  if (zone.kind === 'zone') return `zone ${zone.name}`;
  if (zone.kind === 'vqa') return 'whole (VQA)';
  if (zone.kind === 'blank') return 'not read (blank)';
  return 'whole image';
}

/** A small picture of the region read: the full image scaled and shifted so only the box shows. */
export function zoneCrop(detail, zone, size = 44) {
  if (!zone || zone.kind === 'blank') return null;
  const [x0, y0, x1, y1] = zone.box;
  const [w, h] = [x1 - x0, y1 - y0];
  const aspect = (w * (detail.width || 1)) / (h * (detail.height || 1));
  const [boxW, boxH] = aspect >= 1 ? [size, size / aspect] : [size * aspect, size];
  const at = (start, extent) => (extent >= 1 ? 0 : (start / (1 - extent)) * 100);
  return element('span', {
    class: 'zone-crop', title: zoneName(zone),
    style: {
      width: `${boxW.toFixed(1)}px`, height: `${boxH.toFixed(1)}px`, backgroundImage: `url("${detail.image_url}")`,
      backgroundSize: `${(100 / w).toFixed(3)}% ${(100 / h).toFixed(3)}%`, backgroundPosition: `${at(x0, w).toFixed(3)}% ${at(y0, h).toFixed(3)}%`,
    },
  });
}

/** The selected axis's zone outlined on the full image (nothing for the whole image). */
export function zoneOutline(zone) {
  if (zone?.kind !== 'zone') return null;
  const [x0, y0, x1, y1] = zone.box;
  return element('span', { class: 'zone-outline', id: 'zone-outline', title: zoneName(zone),
    style: { left: `${x0 * 100}%`, top: `${y0 * 100}%`, width: `${(x1 - x0) * 100}%`, height: `${(y1 - y0) * 100}%` } });
}
